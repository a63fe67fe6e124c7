// The transfer layer: values <-> bytes, hostile input, task ids, exceptions.
#include <multiprocessing/reduction.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <list>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "catch.hpp"

namespace mp = multiprocessing;
namespace d = multiprocessing::detail;

// --- allocation counting (only while a test asks for it) -------------------

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// Every non-aligned form is replaced, so that no allocation made by one form
// is released by another (AddressSanitizer checks that). GCC cannot see that
// these operators pair with malloc/free and warns at every inlined delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
void* counted_malloc(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace
void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

struct allocation_counter {
  allocation_counter() {
    g_allocations = 0;
    g_counting = true;
  }
  ~allocation_counter() { g_counting = false; }
  long count() const { return g_allocations.load(); }
};

// --- types used below ------------------------------------------------------

enum class Color : std::int32_t { red = 1, green = 2, blue = 3 };
enum Plain : unsigned char { plain_a, plain_b };

struct Point {  // trivially copyable aggregate: bytes
  int x;
  double y;
};
struct Nested {  // bytes, with nested aggregate, std::array, C array, enum
  Point p;
  std::array<std::int16_t, 3> a;
  float f[2];
  Color c;
};
struct Config {  // not trivially copyable: field by field
  std::string name;
  bool verbose;
  std::vector<Point> points;
  std::optional<std::map<std::string, int>> extra;
};
struct Wide {  // 20 fields: beyond the field counter, taken on trust
  int f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19;
};
struct WithPointer {
  int n;
  int* p;
};
struct WithNestedPointer {
  Point pt;
  WithPointer inner;
};
struct WithReference {
  int& r;
};
struct WithConstRef {
  const int& r;
};
struct Base {
  int b;
};
struct Derived : Base {
  int d;
};
union U {
  int i;
  float f;
};

struct Cereal {  // cereal convention
  int id = 0;
  std::string label;
  std::vector<double> values;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, label, values);
  }
  bool operator==(const Cereal&) const = default;
};
struct BoostStyle {  // Boost.Serialization convention, with a version argument
  std::int64_t a = 0;
  std::list<std::string> names;
  template <class Archive>
  void serialize(Archive& ar, const unsigned int /*version*/) {
    ar & a & names;
  }
  bool operator==(const BoostStyle&) const = default;
};
class SaveLoad {  // split save/load members, private state
 public:
  SaveLoad() = default;
  explicit SaveLoad(int v) : v_(v), twice_(2 * v) {}
  template <class Archive>
  void save(Archive& ar) const {
    ar(v_);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(v_);
    twice_ = 2 * v_;
  }
  int v() const { return v_; }
  int twice() const { return twice_; }

 private:
  int v_ = 0;
  int twice_ = 0;
};
struct FreeSerialize {
  int a = 0;
  std::string b;
};
template <class Archive>
void serialize(Archive& ar, FreeSerialize& v) {
  ar(v.a, v.b);
}
struct EmptyUser {  // encodes to nothing
  template <class Archive>
  void serialize(Archive&) {}
};
struct Node {  // recursive through a container
  int value = 0;
  std::vector<Node> children;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(value, children);
  }
};

// No default constructor: only transfer_traits can make it transferable.
class Handle {
 public:
  explicit Handle(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};
class NotTransferable {
 public:
  explicit NotTransferable(int) {}
};

}  // namespace

template <>
struct multiprocessing::transfer_traits<Handle> {
  static void save(detail::writer& w, const Handle& h) { detail::save(w, h.name()); }
  static Handle load(detail::reader& r) { return Handle(detail::load<std::string>(r)); }
};

// Exported (external linkage; the test executable links with -rdynamic), so
// it can travel as a function pointer.
int reduction_test_add(int a, int b) { return a + b; }
std::string reduction_test_concat(std::string a, const std::string& b) { return a + b; }
void reduction_test_void(int) {}

namespace {
int hidden_function(int a) { return -a; }  // internal linkage: cannot travel

template <class T>
T round_trip(const T& v) {
  return mp::loads<T>(mp::dumps(v));
}

std::vector<std::byte> bytes_of(std::initializer_list<int> l) {
  std::vector<std::byte> out;
  for (int b : l) out.push_back(static_cast<std::byte>(b));
  return out;
}

template <class T>
std::vector<std::byte> tagged(std::vector<std::byte> payload) {
  std::vector<std::byte> out(8);
  auto tag = d::type_hash<T>();
  std::memcpy(out.data(), &tag, 8);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}
template <class V>
std::vector<std::byte> raw(const V& v) {
  std::vector<std::byte> out(sizeof v);
  std::memcpy(out.data(), &v, sizeof v);
  return out;
}
std::vector<std::byte> cat(std::vector<std::byte> a, const std::vector<std::byte>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("Transferable accepts the listed types and rejects pointers and references") {
  STATIC_REQUIRE(mp::Transferable<int>);
  STATIC_REQUIRE(mp::Transferable<const double>);
  STATIC_REQUIRE(mp::Transferable<bool>);
  STATIC_REQUIRE(mp::Transferable<std::byte>);
  STATIC_REQUIRE(mp::Transferable<Color>);
  STATIC_REQUIRE(mp::Transferable<std::string>);
  STATIC_REQUIRE(mp::Transferable<std::wstring>);
  STATIC_REQUIRE(mp::Transferable<std::vector<std::vector<int>>>);
  STATIC_REQUIRE(mp::Transferable<std::map<std::string, std::unordered_set<int>>>);
  STATIC_REQUIRE(mp::Transferable<std::tuple<int, std::pair<std::string, std::optional<bool>>>>);
  STATIC_REQUIRE(mp::Transferable<std::variant<std::monostate, int, std::string>>);
  STATIC_REQUIRE(mp::Transferable<std::chrono::nanoseconds>);
  STATIC_REQUIRE(mp::Transferable<std::filesystem::path>);
  STATIC_REQUIRE(mp::Transferable<std::complex<float>>);
  STATIC_REQUIRE(mp::Transferable<Point>);
  STATIC_REQUIRE(mp::Transferable<Nested>);
  STATIC_REQUIRE(mp::Transferable<Config>);
  STATIC_REQUIRE(mp::Transferable<Wide>);
  STATIC_REQUIRE(mp::Transferable<Cereal>);
  STATIC_REQUIRE(mp::Transferable<BoostStyle>);
  STATIC_REQUIRE(mp::Transferable<SaveLoad>);
  STATIC_REQUIRE(mp::Transferable<FreeSerialize>);
  STATIC_REQUIRE(mp::Transferable<Node>);
  STATIC_REQUIRE(mp::Transferable<Handle>);
  STATIC_REQUIRE(mp::Transferable<std::vector<Handle>>);
  STATIC_REQUIRE(mp::Transferable<std::exception_ptr>);
  STATIC_REQUIRE(mp::Transferable<int (*)(int, int)>);

  STATIC_REQUIRE_FALSE(mp::Transferable<int*>);
  STATIC_REQUIRE_FALSE(mp::Transferable<const char*>);
  STATIC_REQUIRE_FALSE(mp::Transferable<int&>);
  STATIC_REQUIRE_FALSE(mp::Transferable<int Point::*>);
  STATIC_REQUIRE_FALSE(mp::Transferable<int[4]>);
  STATIC_REQUIRE_FALSE(mp::Transferable<U>);
  STATIC_REQUIRE_FALSE(mp::Transferable<WithPointer>);
  STATIC_REQUIRE_FALSE(mp::Transferable<WithNestedPointer>);
  STATIC_REQUIRE_FALSE(mp::Transferable<WithReference>);
  STATIC_REQUIRE_FALSE(mp::Transferable<WithConstRef>);
  STATIC_REQUIRE_FALSE(mp::Transferable<Derived>);
  STATIC_REQUIRE_FALSE(mp::Transferable<NotTransferable>);
  STATIC_REQUIRE_FALSE(mp::Transferable<std::vector<int*>>);
  STATIC_REQUIRE_FALSE(mp::Transferable<std::map<int, std::string_view>>);
  STATIC_REQUIRE_FALSE(mp::Transferable<std::optional<WithPointer>>);
  STATIC_REQUIRE_FALSE(mp::Transferable<std::function<void()>>);
  STATIC_REQUIRE_FALSE(mp::Transferable<std::unique_ptr<int>>);

  auto captureless = [](int x) { return x; };
  STATIC_REQUIRE(d::transferable_callable<decltype(captureless)>);
  std::string s;
  auto capturing_string = [s](int) { return 1; };
  STATIC_REQUIRE_FALSE(d::transferable_callable<decltype(capturing_string)>);
  STATIC_REQUIRE_FALSE(d::transferable_callable<std::function<int(int)>>);
}

TEST_CASE("arithmetic, bool, enums and bytes round trip") {
  CHECK(round_trip(0) == 0);
  CHECK(round_trip(std::numeric_limits<std::int64_t>::min()) ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip(static_cast<signed char>(-5)) == -5);
  CHECK(round_trip('x') == 'x');
  CHECK(round_trip(char32_t{0x1F600}) == char32_t{0x1F600});
  CHECK(round_trip(3.5f) == 3.5f);
  CHECK(round_trip(-0.125) == -0.125);
  CHECK(round_trip(1.0L / 3) == 1.0L / 3);
  CHECK(round_trip(true) == true);
  CHECK(round_trip(false) == false);
  CHECK(round_trip(Color::blue) == Color::blue);
  CHECK(round_trip(plain_b) == plain_b);
  CHECK(round_trip(std::byte{0xAB}) == std::byte{0xAB});
  // Tag plus the value's own bytes, nothing else.
  CHECK(mp::dumps(std::int32_t{7}).size() == 8 + 4);
  CHECK(mp::dumps(true).size() == 8 + 1);
}

TEST_CASE("strings, paths and sequences round trip") {
  CHECK(round_trip(std::string()) == "");
  CHECK(round_trip(std::string("hello\0world", 11)) == std::string("hello\0world", 11));
  std::string big(100000, 'z');
  CHECK(round_trip(big) == big);
  CHECK(round_trip(std::wstring(L"wide ✓")) == L"wide ✓");
  CHECK(round_trip(std::u16string(u"utf16")) == u"utf16");
  CHECK(round_trip(std::filesystem::path("/tmp/a b/c.txt")) == std::filesystem::path("/tmp/a b/c.txt"));

  std::vector<std::int64_t> v{1, -2, 3, std::numeric_limits<std::int64_t>::max()};
  CHECK(round_trip(v) == v);
  CHECK(mp::dumps(v).size() == 8 + 8 + 8 * v.size());
  CHECK(round_trip(std::vector<int>{}).empty());
  std::vector<bool> bits{true, false, true, true, false};
  CHECK(round_trip(bits) == bits);
  std::vector<std::string> strings{"a", "", "ccc"};
  CHECK(round_trip(strings) == strings);
  std::deque<int> dq{5, 4, 3};
  CHECK(round_trip(dq) == dq);
  std::list<std::string> ls{"x", "y"};
  CHECK(round_trip(ls) == ls);
  std::array<double, 3> arr{1.5, 2.5, 3.5};
  CHECK(round_trip(arr) == arr);
  std::array<std::string, 2> sarr{"p", "q"};
  CHECK(round_trip(sarr) == sarr);
  std::vector<Point> pts{{1, 2.0}, {3, 4.0}};
  auto pts2 = round_trip(pts);
  REQUIRE(pts2.size() == 2);
  CHECK((pts2[1].x == 3 && pts2[1].y == 4.0));
}

TEST_CASE("associative containers round trip") {
  std::map<std::string, int> m{{"one", 1}, {"two", 2}};
  CHECK(round_trip(m) == m);
  std::unordered_map<int, std::string> um{{1, "a"}, {2, "b"}, {3, "c"}};
  CHECK(round_trip(um) == um);
  std::set<double> s{0.5, 1.5};
  CHECK(round_trip(s) == s);
  std::unordered_set<std::string> us{"x", "y", "z"};
  CHECK(round_trip(us) == us);
  std::multimap<int, int> mm{{1, 1}, {1, 2}, {2, 3}};
  CHECK(round_trip(mm) == mm);
  std::multiset<int> ms{4, 4, 4, 1};
  CHECK(round_trip(ms) == ms);
  std::unordered_multimap<int, int> umm{{1, 1}, {1, 2}};
  CHECK(round_trip(umm) == umm);
  std::unordered_multiset<int> ums{7, 7};
  CHECK(round_trip(ums) == ums);
}

TEST_CASE("pair, tuple, optional, variant, monostate, complex, chrono round trip") {
  auto p = std::make_pair(std::string("k"), 3.25);
  CHECK(round_trip(p) == p);
  auto t = std::make_tuple(1, std::string("two"), 3.0, Color::green);
  CHECK(round_trip(t) == t);
  CHECK(round_trip(std::tuple<>{}) == std::tuple<>{});
  CHECK(round_trip(std::optional<int>{}) == std::nullopt);
  CHECK(round_trip(std::optional<std::string>{"x"}) == std::optional<std::string>{"x"});
  using V = std::variant<std::monostate, int, std::string, std::vector<int>>;
  CHECK(round_trip(V{}) == V{});
  CHECK(round_trip(V{42}) == V{42});
  CHECK(round_trip(V{std::string("s")}) == V{std::string("s")});
  CHECK(round_trip(V{std::vector<int>{1, 2}}) == V{std::vector<int>{1, 2}});
  using Same = std::variant<int, int>;  // the index, not the type, picks the alternative
  CHECK(round_trip(Same{std::in_place_index<1>, 5}).index() == 1);
  CHECK(round_trip(std::monostate{}) == std::monostate{});
  CHECK(mp::dumps(std::monostate{}).size() == 8);
  CHECK(round_trip(std::complex<double>(1.5, -2.5)) == std::complex<double>(1.5, -2.5));
  CHECK(round_trip(std::chrono::milliseconds(1234)) == std::chrono::milliseconds(1234));
  CHECK(round_trip(std::chrono::duration<double>(0.5)) == std::chrono::duration<double>(0.5));
  auto now = std::chrono::system_clock::now();
  CHECK(round_trip(now) == now);
}

TEST_CASE("nested combinations round trip") {
  using Deep = std::map<std::string, std::vector<std::optional<std::variant<int, std::list<std::pair<std::string, std::set<int>>>>>>>;
  Deep deep;
  deep["a"].push_back(std::nullopt);
  deep["a"].push_back(7);
  deep["b"].push_back(std::list<std::pair<std::string, std::set<int>>>{{"x", {1, 2}}, {"y", {}}});
  CHECK(round_trip(deep) == deep);

  std::vector<std::vector<std::monostate>> monos{{}, {std::monostate{}, std::monostate{}}};
  CHECK(round_trip(monos) == monos);
  std::vector<EmptyUser> empties(5);
  CHECK(round_trip(empties).size() == 5);
  std::vector<std::tuple<>> units(3);
  CHECK(round_trip(units).size() == 3);
}

TEST_CASE("aggregates go as bytes or field by field") {
  STATIC_REQUIRE(d::bytes_safe<Point>);
  STATIC_REQUIRE(d::bytes_safe<Nested>);
  STATIC_REQUIRE_FALSE(d::bytes_safe<Config>);  // std::string, bool
  Nested n{{1, 2.5}, {3, 4, 5}, {6.5f, 7.5f}, Color::red};
  auto n2 = round_trip(n);
  CHECK(n2.p.x == 1);
  CHECK(n2.p.y == 2.5);
  CHECK(n2.a == std::array<std::int16_t, 3>{3, 4, 5});
  CHECK(n2.f[1] == 7.5f);
  CHECK(n2.c == Color::red);
  CHECK(mp::dumps(n).size() == 8 + sizeof(Nested));

  Config c{"cfg", true, {{1, 1.0}}, std::map<std::string, int>{{"k", 9}}};
  auto c2 = round_trip(c);
  CHECK(c2.name == "cfg");
  CHECK(c2.verbose);
  REQUIRE(c2.points.size() == 1);
  CHECK(c2.points[0].x == 1);
  CHECK(c2.extra == c.extra);

  Wide w{};
  w.f0 = 1;
  w.f19 = 19;
  auto w2 = round_trip(w);
  CHECK((w2.f0 == 1 && w2.f19 == 19));
}

TEST_CASE("user types with serialize, save/load and transfer_traits round trip") {
  Cereal c{7, "seven", {1.0, 2.0}};
  CHECK(round_trip(c) == c);
  BoostStyle b{-3, {"a", "b"}};
  CHECK(round_trip(b) == b);
  auto s = round_trip(SaveLoad(21));
  CHECK(s.v() == 21);
  CHECK(s.twice() == 42);
  auto f = round_trip(FreeSerialize{3, "three"});
  CHECK((f.a == 3 && f.b == "three"));
  Node tree{1, {Node{2, {}}, Node{3, {Node{4, {}}}}}};
  auto t2 = round_trip(tree);
  REQUIRE(t2.children.size() == 2);
  CHECK(t2.children[1].children[0].value == 4);

  CHECK(round_trip(Handle("seg-1")).name() == "seg-1");
  auto hs = round_trip(std::vector<Handle>{Handle("a"), Handle("b")});
  REQUIRE(hs.size() == 2);
  CHECK(hs[1].name() == "b");
  auto ph = round_trip(std::pair<Handle, int>{Handle("p"), 1});
  CHECK(ph.first.name() == "p");
  auto oh = round_trip(std::optional<Handle>(Handle("o")));
  CHECK(oh->name() == "o");
  auto ah = round_trip(std::array<Handle, 2>{Handle("x"), Handle("y")});
  CHECK(ah[1].name() == "y");

  // The writer/reader are usable directly, in both call styles.
  std::vector<std::byte> buf;
  d::writer w(buf);
  w(1, std::string("two"));
  w& 3.0;
  d::reader r(buf);
  int one = 0;
  std::string two;
  double three = 0;
  r(one, two);
  r& three;
  CHECK((one == 1 && two == "two" && three == 3.0));
  CHECK(r.remaining() == 0);
}

TEST_CASE("loading the wrong type is UnpicklingError naming the expected type") {
  auto msg = mp::dumps(std::string("text"));
  try {
    (void)mp::loads<int>(msg);
    FAIL("no exception");
  } catch (const mp::UnpicklingError& e) {
    CHECK(std::string(e.what()).find("int") != std::string::npos);
  }
  CHECK_THROWS_AS(mp::loads<std::vector<char>>(msg), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<std::string>(std::span<const std::byte>{}), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<std::string>(bytes_of({1, 2, 3})), mp::UnpicklingError);
}

TEST_CASE("every truncated prefix of a message is UnpicklingError") {
  std::vector<std::vector<std::byte>> messages{
      mp::dumps(std::string("hello")),
      mp::dumps(std::map<std::string, std::vector<int>>{{"a", {1, 2}}, {"bb", {}}}),
      mp::dumps(Config{"c", false, {{1, 2.0}}, std::nullopt}),
      mp::dumps(std::variant<int, std::string>(std::string("v"))),
      mp::dumps(Node{1, {Node{2, {}}}}),
      mp::dumps(std::make_tuple(1, std::optional<double>(2.0), std::vector<bool>{true})),
  };
  auto load_any = [](std::size_t which, std::span<const std::byte> b) {
    switch (which) {
      case 0: (void)mp::loads<std::string>(b); break;
      case 1: (void)mp::loads<std::map<std::string, std::vector<int>>>(b); break;
      case 2: (void)mp::loads<Config>(b); break;
      case 3: (void)mp::loads<std::variant<int, std::string>>(b); break;
      case 4: (void)mp::loads<Node>(b); break;
      case 5: (void)mp::loads<std::tuple<int, std::optional<double>, std::vector<bool>>>(b); break;
    }
  };
  for (std::size_t m = 0; m < messages.size(); ++m) {
    const auto& full = messages[m];
    CHECK_NOTHROW(load_any(m, full));
    for (std::size_t len = 0; len < full.size(); ++len) {
      INFO("message " << m << " truncated to " << len << " of " << full.size());
      CHECK_THROWS_AS(load_any(m, std::span<const std::byte>(full.data(), len)),
                      mp::UnpicklingError);
    }
    auto longer = full;
    longer.push_back(std::byte{0});
    CHECK_THROWS_AS(load_any(m, longer), mp::UnpicklingError);  // trailing garbage
  }
}

TEST_CASE("huge length fields are errors, not allocations") {
  for (std::uint64_t n : {std::uint64_t{1} << 60, ~std::uint64_t{0}, std::uint64_t{1} << 32,
                          std::uint64_t{17}}) {
    INFO("count " << n);
    CHECK_THROWS_AS(mp::loads<std::string>(tagged<std::string>(raw(n))), mp::UnpicklingError);
    CHECK_THROWS_AS(mp::loads<std::vector<std::int64_t>>(tagged<std::vector<std::int64_t>>(raw(n))),
                    mp::UnpicklingError);
    CHECK_THROWS_AS(mp::loads<std::vector<std::string>>(tagged<std::vector<std::string>>(raw(n))),
                    mp::UnpicklingError);
    using IntMap = std::map<int, int>;
    CHECK_THROWS_AS(mp::loads<IntMap>(tagged<IntMap>(raw(n))), mp::UnpicklingError);
    CHECK_THROWS_AS(mp::loads<std::vector<std::monostate>>(tagged<std::vector<std::monostate>>(raw(n))),
                    mp::UnpicklingError);
    CHECK_THROWS_AS(mp::loads<std::vector<EmptyUser>>(tagged<std::vector<EmptyUser>>(raw(n))),
                    mp::UnpicklingError);
  }
  // A count must fit in the bytes left: 3 int64 need 24 bytes, 23 are there.
  auto short_payload = cat(raw(std::uint64_t{3}), std::vector<std::byte>(23));
  CHECK_THROWS_AS(mp::loads<std::vector<std::int64_t>>(tagged<std::vector<std::int64_t>>(short_payload)),
                  mp::UnpicklingError);
}

TEST_CASE("invalid tags: bool, optional, variant, element markers") {
  CHECK_THROWS_AS(mp::loads<bool>(tagged<bool>(bytes_of({2}))), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<std::optional<int>>(tagged<std::optional<int>>(bytes_of({7, 0, 0, 0, 0}))),
                  mp::UnpicklingError);
  using V = std::variant<int, std::string>;
  CHECK_THROWS_AS(mp::loads<V>(tagged<V>(bytes_of({2, 0, 0, 0, 0}))), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<V>(tagged<V>(bytes_of({255, 0, 0, 0, 0}))), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<std::vector<bool>>(tagged<std::vector<bool>>(cat(raw(std::uint64_t{1}), bytes_of({3})))),
                  mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<std::vector<std::monostate>>(
                      tagged<std::vector<std::monostate>>(cat(raw(std::uint64_t{1}), bytes_of({1})))),
                  mp::UnpicklingError);
  // A bool field inside a field-by-field aggregate is checked too.
  auto msg = mp::dumps(Config{"c", true, {}, std::nullopt});
  msg[8 + 8 + 1] = std::byte{9};  // tag, length of "c", 'c', then the bool
  CHECK_THROWS_AS(mp::loads<Config>(msg), mp::UnpicklingError);
  // Enum values are copied as they are.
  CHECK(static_cast<int>(mp::loads<Color>(tagged<Color>(raw(std::int32_t{99})))) == 99);
}

TEST_CASE("nesting depth of hostile input is bounded") {
  // Node{children: [Node{children: [...]}]} 100000 levels deep: each level is
  // a value and a count of one.
  std::vector<std::byte> payload;
  for (int i = 0; i < 100000; ++i) payload = cat(std::move(payload), cat(raw(std::int32_t{i}), raw(std::uint64_t{1})));
  payload = cat(std::move(payload), cat(raw(std::int32_t{0}), raw(std::uint64_t{0})));
  CHECK_THROWS_AS(mp::loads<Node>(tagged<Node>(payload)), mp::UnpicklingError);
  // Legitimately deep values within the bound still load.
  Node chain{0, {}};
  Node* tip = &chain;
  for (int i = 1; i < 200; ++i) {
    tip->children.push_back(Node{i, {}});
    tip = &tip->children.back();
  }
  auto back = round_trip(chain);
  const Node* t = &back;
  int depth = 0;
  while (!t->children.empty()) {
    t = &t->children[0];
    ++depth;
  }
  CHECK(depth == 199);
  CHECK(t->value == 199);
}

namespace {

enum class Small : std::uint8_t { a, b };
struct FuzzAgg {
  std::int16_t a;
  double b;
  Small s;
};
struct FuzzUser {
  std::string name;
  std::vector<FuzzAgg> rows;
  std::optional<std::pair<bool, std::string>> flag;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, rows, flag);
  }
};
using Fuzz = std::tuple<
    std::vector<std::string>,
    std::map<int, std::optional<std::variant<int, std::string, std::vector<double>>>>,
    std::list<std::pair<bool, std::deque<std::int16_t>>>, std::set<std::string>,
    std::unordered_map<std::string, std::vector<FuzzAgg>>, FuzzUser,
    std::array<std::optional<bool>, 3>, Color, std::chrono::milliseconds, std::filesystem::path,
    std::vector<bool>, std::complex<double>, std::monostate, std::vector<std::monostate>,
    std::vector<EmptyUser>, Config, std::multiset<std::uint8_t>, Node>;

Fuzz sample_fuzz(std::mt19937_64& rng) {
  auto small = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  Fuzz f;
  for (int i = small(4); i-- > 0;) std::get<0>(f).push_back(std::string(small(10), 'a' + small(26)));
  for (int i = small(4); i-- > 0;) {
    switch (small(4)) {
      case 0: std::get<1>(f)[small(100)] = std::nullopt; break;
      case 1: std::get<1>(f)[small(100)] = small(1000); break;
      case 2: std::get<1>(f)[small(100)] = std::string(small(5), 'q'); break;
      default: std::get<1>(f)[small(100)] = std::vector<double>(small(4), 0.5); break;
    }
  }
  for (int i = small(3); i-- > 0;)
    std::get<2>(f).push_back({small(2) == 1, std::deque<std::int16_t>(small(4), 7)});
  for (int i = small(3); i-- > 0;) std::get<3>(f).insert(std::to_string(small(1000)));
  for (int i = small(3); i-- > 0;)
    std::get<4>(f)[std::to_string(i)] = std::vector<FuzzAgg>(small(3), FuzzAgg{1, 2.0, Small::b});
  std::get<5>(f).name = "user";
  std::get<5>(f).rows.resize(small(3));
  if (small(2)) std::get<5>(f).flag = std::make_pair(true, std::string("f"));
  std::get<6>(f)[small(3)] = small(2) == 1;
  std::get<7>(f) = Color::green;
  std::get<8>(f) = std::chrono::milliseconds(small(10000));
  std::get<9>(f) = "/a/b";
  std::get<10>(f).assign(small(9), true);
  std::get<11>(f) = {1.0, 2.0};
  std::get<13>(f).resize(small(3));
  std::get<14>(f).resize(small(3));
  std::get<15>(f) = Config{"n", small(2) == 1, {{1, 2.0}}, std::nullopt};
  std::get<16>(f) = {1, 1, 2};
  std::get<17>(f) = Node{1, {Node{2, {}}}};
  return f;
}

void mutate(std::vector<std::byte>& m, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  switch (rng() % 6) {
    case 0:  // flip a few bits (not in the tag, mostly: the tag check is trivial)
      for (int i = 1 + static_cast<int>(rng() % 4); i-- > 0;)
        if (m.size() > 8) m[8 + pick(m.size() - 8)] ^= static_cast<std::byte>(1u << (rng() % 8));
      break;
    case 1:  // truncate
      m.resize(pick(m.size() + 1));
      break;
    case 2: {  // insert random bytes
      std::size_t at = 8 + pick(m.size() > 8 ? m.size() - 8 : 0);
      if (at > m.size()) at = m.size();
      std::vector<std::byte> junk(1 + pick(16));
      for (auto& b : junk) b = static_cast<std::byte>(rng());
      m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), junk.begin(), junk.end());
      break;
    }
    case 3: {  // overwrite 8 bytes with a large count
      if (m.size() < 16) break;
      std::size_t at = 8 + pick(m.size() - 15);
      std::uint64_t big = std::uint64_t{1} << (rng() % 64);
      std::memcpy(m.data() + at, &big, 8);
      break;
    }
    case 4: {  // delete a span
      if (m.size() <= 8) break;
      std::size_t at = 8 + pick(m.size() - 8);
      std::size_t n = 1 + pick(std::min<std::size_t>(16, m.size() - at));
      m.erase(m.begin() + static_cast<std::ptrdiff_t>(at),
              m.begin() + static_cast<std::ptrdiff_t>(std::min(at + n, m.size())));
      break;
    }
    default:  // set one byte to a random value
      if (m.size() > 8) m[8 + pick(m.size() - 8)] = static_cast<std::byte>(rng());
      break;
  }
}

}  // namespace

TEST_CASE("fuzz: random and mutated messages give UnpicklingError or a value") {
  std::mt19937_64 rng(20240521);
  long errors = 0, values = 0;
  auto attempt = [&](std::span<const std::byte> b) {
    try {
      auto v = mp::loads<Fuzz>(b);
      (void)mp::dumps(v);  // what loaded is a usable value
      ++values;
    } catch (const mp::UnpicklingError&) {
      ++errors;
    }
    // Any other exception type escapes and fails the test.
  };
  std::vector<std::vector<std::byte>> seeds;
  for (int i = 0; i < 64; ++i) seeds.push_back(mp::dumps(sample_fuzz(rng)));
  for (const auto& s : seeds) attempt(s);
  CHECK(values == 64);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> m;
    if (i % 10 == 0) {  // pure noise after a valid tag
      m = tagged<Fuzz>({});
      for (std::size_t n = rng() % 256; n-- > 0;) m.push_back(static_cast<std::byte>(rng()));
    } else {
      m = seeds[rng() % seeds.size()];
      for (int k = 1 + static_cast<int>(rng() % 3); k-- > 0;) mutate(m, rng);
    }
    attempt(m);
  }
  CHECK(errors + values == 64 + 20000);
  CHECK(errors > 10000);  // most mutations are caught
  // Random bytes as a few other types, tag included.
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::byte> m(rng() % 64);
    for (auto& b : m) b = static_cast<std::byte>(rng());
    using StrMap = std::map<std::string, int>;
    CHECK_THROWS_AS(mp::loads<StrMap>(m), mp::UnpicklingError);
  }
}

TEST_CASE("small values do not allocate; a vector of int64 loads with one allocation") {
  std::vector<std::byte> buf;
  buf.reserve(1024);
  d::writer w(buf);
  std::vector<std::int64_t> v(100000, 42);
  std::vector<std::byte> msg = mp::dumps(v);
  {
    allocation_counter counter;
    w(1, 2.0, std::int64_t{3}, true, Color::red, Point{1, 2.0}, std::make_pair(1, 2));
    d::reader r(buf);
    int a;
    double b;
    std::int64_t c;
    bool e;
    Color f;
    Point g;
    std::pair<int, int> h;
    r(a, b, c, e, f, g, h);
    CHECK(counter.count() == 0);
  }
  {
    allocation_counter counter;
    auto back = mp::loads<std::vector<std::int64_t>>(msg);
    CHECK(counter.count() == 1);
    CHECK(back == v);
  }
  {
    allocation_counter counter;
    auto out = mp::dumps(v);
    CHECK(counter.count() <= 2);  // the tag's first growth, then the payload
    CHECK(out == msg);
  }
}

// --- tasks -----------------------------------------------------------------

namespace {

struct Scale {  // a function object with serialize
  double factor = 1;
  double operator()(double x) const { return x * factor; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(factor);
  }
};

template <class F, class... Args>
std::vector<std::byte> call_bytes(const F& f, const Args&... args) {
  std::vector<std::byte> in;
  d::writer w(in);
  d::save_call(w, f, args...);
  return in;
}

std::vector<std::byte> run(std::uint64_t id, const std::vector<std::byte>& in) {
  std::vector<std::byte> out;
  d::reader r(in);
  d::writer w(out);
  d::run_task(id, r, w);
  CHECK(r.remaining() == 0);
  return out;
}

template <class T>
T result_of(const std::vector<std::byte>& out) {
  d::reader r(out);
  T v = d::load<T>(r);
  r.expect_end();
  return v;
}

}  // namespace

TEST_CASE("a task id finds its entry, which runs the call from bytes") {
  using Fn = int (*)(int, int);
  auto id = d::task_id<Fn, int, int>();
  CHECK(id == d::task_id<Fn, int, int>());
  CHECK(id == d::task_id<decltype(&reduction_test_add), const int&, int&&>());  // decayed
  CHECK(id != d::task_id<Fn, int, long>());
  CHECK(d::find_task(id) == &d::task_entry<Fn, int, int>::run);
  CHECK(result_of<int>(run(id, call_bytes(&reduction_test_add, 20, 22))) == 42);

  auto concat_id = d::task_id<decltype(&reduction_test_concat), std::string, std::string>();
  CHECK(result_of<std::string>(run(concat_id, call_bytes(&reduction_test_concat, std::string("ab"), std::string("cd")))) == "abcd");

  auto void_id = d::task_id<decltype(&reduction_test_void), int>();
  CHECK(run(void_id, call_bytes(&reduction_test_void, 1)).empty());

  auto twice = [](std::vector<int> v) {
    for (auto& x : v) x *= 2;
    return v;
  };
  auto lambda_id = d::task_id<decltype(twice), std::vector<int>>();
  auto in = call_bytes(twice, std::vector<int>{1, 2, 3});
  CHECK(in.size() == 1 + 8 + 12);  // a captureless lambda is one byte
  CHECK(result_of<std::vector<int>>(run(lambda_id, in)) == std::vector<int>{2, 4, 6});

  int k = 3;
  long base = 100;
  auto capturing = [k, base](int x) { return base + k * x; };
  auto cap_id = d::task_id<decltype(capturing), int>();
  CHECK(result_of<long>(run(cap_id, call_bytes(capturing, 5))) == 115);

  auto scale_id = d::task_id<Scale, double>();
  CHECK(result_of<double>(run(scale_id, call_bytes(Scale{2.5}, 4.0))) == 10.0);

  // Every instantiated task registered before main: the registry has them all.
  CHECK(d::task_registry::instance().size() >= 7);
}

TEST_CASE("forged task ids and function pointers are UnpicklingError") {
  std::mt19937_64 rng(7);
  int tried = 0;
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t id = rng();
    if (d::task_registry::instance().find(id) != nullptr) continue;
    ++tried;
    CHECK_THROWS_AS(d::find_task(id), mp::UnpicklingError);
  }
  CHECK(tried > 990);

  using Fn = int (*)(int, int);
  auto good = mp::dumps(&reduction_test_add);
  CHECK(mp::loads<Fn>(good)(2, 3) == 5);
  std::uint64_t module = 0, offset = 0, symbol = 0;
  std::memcpy(&module, good.data() + 8, 8);
  std::memcpy(&offset, good.data() + 16, 8);
  std::memcpy(&symbol, good.data() + 24, 8);
  auto forged = [&](std::uint64_t m, std::uint64_t o, std::uint64_t s) {
    return tagged<Fn>(cat(cat(raw(m), raw(o)), raw(s)));
  };
  auto forged_at = [&](std::uint64_t m, std::uint64_t o) { return forged(m, o, symbol); };
  // A neighbouring exported function (another type) is refused by its name.
  auto other = mp::dumps(&reduction_test_void);
  std::uint64_t other_offset = 0;
  std::memcpy(&other_offset, other.data() + 16, 8);
  CHECK_THROWS_AS(mp::loads<Fn>(forged_at(module, other_offset)), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<Fn>(forged(module, offset, symbol ^ 1)), mp::UnpicklingError);
  for (std::uint64_t delta : {1, 2, 4, 16, 4096}) {
    CHECK_THROWS_AS(mp::loads<Fn>(forged_at(module, offset + delta)), mp::UnpicklingError);
    CHECK_THROWS_AS(mp::loads<Fn>(forged_at(module, offset - delta)), mp::UnpicklingError);
  }
  CHECK_THROWS_AS(mp::loads<Fn>(forged_at(module, 0)), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<Fn>(forged_at(module, ~std::uint64_t{0})), mp::UnpicklingError);
  CHECK_THROWS_AS(mp::loads<Fn>(forged_at(module ^ 1, offset)), mp::UnpicklingError);
  try {
    (void)mp::loads<Fn>(forged_at(module, offset + 1));
  } catch (const mp::UnpicklingError& e) {
    CHECK(std::string(e.what()).find("external linkage") != std::string::npos);
  }
  // A function without external linkage is refused when sent.
  CHECK_THROWS_AS(mp::dumps(&hidden_function), mp::ValueError);
  CHECK(hidden_function(1) == -1);
}

TEST_CASE("exceptions come back as the same type, others as RemoteError") {
  auto transport = [](std::exception_ptr e) {
    std::vector<std::byte> buf;
    d::writer w(buf);
    d::save_exception(w, e);
    d::reader r(buf);
    std::exception_ptr back = d::load_exception(r);
    r.expect_end();
    return back;
  };
  auto check_same = [&](auto ex) {
    using E = decltype(ex);
    INFO(d::type_name<E>());
    try {
      std::rethrow_exception(transport(std::make_exception_ptr(ex)));
    } catch (const std::exception& got) {
      CHECK(typeid(got) == typeid(E));
      CHECK(std::string(got.what()) == ex.what());
    }
  };
  check_same(std::exception());
  check_same(std::bad_alloc());
  check_same(std::logic_error("logic"));
  check_same(std::invalid_argument("arg"));
  check_same(std::domain_error("domain"));
  check_same(std::length_error("length"));
  check_same(std::out_of_range("range"));
  check_same(std::runtime_error("runtime"));
  check_same(std::range_error("range2"));
  check_same(std::overflow_error("over"));
  check_same(std::underflow_error("under"));
  check_same(mp::ProcessError("pe"));
  check_same(mp::OSError("shm_open", std::error_code(ENOENT, std::generic_category()), "/x"));
  check_same(mp::OSError("read", std::error_code(EINTR, std::system_category())));
  check_same(mp::BufferTooShort(std::vector<std::byte>(5)));
  check_same(mp::AuthenticationError("auth"));
  check_same(mp::TimeoutError());
  check_same(mp::Empty());
  check_same(mp::Full("full!"));
  check_same(mp::EOFError());
  check_same(mp::ValueError("value"));
  check_same(mp::UnpicklingError("unpickling"));
  check_same(mp::RemoteError("Foo", "bar"));
  check_same(mp::WorkerLostError("lost"));
  check_same(mp::BrokenProcessPool("broken"));
  check_same(mp::CancelledError());
  check_same(mp::BrokenBarrierError());

  try {
    std::rethrow_exception(transport(std::make_exception_ptr(mp::RemoteError("Foo", "bar"))));
  } catch (const mp::RemoteError& e) {
    CHECK(e.type_name() == "Foo");
  }
  try {
    std::rethrow_exception(
        transport(std::make_exception_ptr(mp::BufferTooShort(std::vector<std::byte>(3)))));
  } catch (const mp::BufferTooShort& e) {
    CHECK(e.message().size() == 3);
  }

  struct MyError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
  };
  try {
    std::rethrow_exception(transport(std::make_exception_ptr(MyError("mine"))));
  } catch (const mp::RemoteError& e) {
    CHECK(e.type_name().find("MyError") != std::string::npos);
    CHECK(std::string(e.what()).find("mine") != std::string::npos);
  }
  try {
    std::rethrow_exception(transport(std::make_exception_ptr(42)));
  } catch (const mp::RemoteError& e) {
    CHECK(e.type_name() == "int");
  }
  CHECK(transport(nullptr) == nullptr);

  // As a value, and through rethrow_saved.
  auto ep = round_trip(std::make_exception_ptr(std::out_of_range("oor")));
  CHECK_THROWS_AS(std::rethrow_exception(ep), std::out_of_range);
  std::vector<std::byte> buf;
  d::writer w(buf);
  d::save_exception(w, std::make_exception_ptr(mp::ValueError("v")));
  d::reader r(buf);
  CHECK_THROWS_AS(d::rethrow_saved(r), mp::ValueError);
  // Malformed exception bytes are UnpicklingError.
  for (auto bad : {bytes_of({200}), bytes_of({}), bytes_of({5, 9, 9})}) {
    d::reader br(bad);
    CHECK_THROWS_AS(d::load_exception(br), mp::UnpicklingError);
  }
}

// --- a forked child ---------------------------------------------------------

namespace {

/// Runs body in a forked child (which reports through its exit code, or 99 if
/// it threw) and returns the exit code; -1 if it did not end within 30 s.
template <class Body>
int run_in_child(Body body) {
  pid_t pid = fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
  REQUIRE(pid > 0);
  for (int i = 0; i < 3000; ++i) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

}  // namespace

TEST_CASE("a forked child computes the same task id and runs the parent's bytes") {
  using Fn = int (*)(int, int);
  std::uint64_t id = d::task_id<Fn, int, int>();
  auto in = call_bytes(&reduction_test_add, 40, 2);
  int code = run_in_child([&] {
    if (d::task_id<Fn, int, int>() != id) return 1;
    std::vector<std::byte> out;
    d::reader r(in);
    d::writer w(out);
    d::run_task(id, r, w);
    d::reader ro(out);
    return d::load<int>(ro) == 42 ? 0 : 2;
  });
  CHECK(code == 0);

  // The child sends a result back through a pipe.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  code = run_in_child([&] {
    close(fds[0]);
    auto msg = mp::dumps(std::map<std::string, std::vector<int>>{{"pid", {static_cast<int>(getpid())}}});
    std::uint64_t n = msg.size();
    if (write(fds[1], &n, 8) != 8) return 3;
    if (write(fds[1], msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) return 4;
    close(fds[1]);
    return 0;
  });
  close(fds[1]);
  CHECK(code == 0);
  std::uint64_t n = 0;
  pollfd p{fds[0], POLLIN, 0};
  REQUIRE(poll(&p, 1, 10000) == 1);
  REQUIRE(read(fds[0], &n, 8) == 8);
  REQUIRE(n < 4096);
  std::vector<std::byte> msg(n);
  REQUIRE(read(fds[0], msg.data(), n) == static_cast<ssize_t>(n));
  close(fds[0]);
  auto m = mp::loads<std::map<std::string, std::vector<int>>>(msg);
  REQUIRE(m.count("pid") == 1);
  CHECK(m["pid"][0] != getpid());
}
