// Value, Array, RawValue, RawArray: construction, element access, copies
// sharing memory, locks, and use from several processes.
#include <multiprocessing/reduction.hpp>
#include <multiprocessing/sharedctypes.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <mutex>
#include <numeric>
#include <ranges>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "catch.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

/// Runs f() in a forked child whose exit code is f()'s result (98: it threw).
template <class F>
pid_t fork_child(F&& f) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 97;
    try {
      code = f();
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  REQUIRE(pid > 0);
  return pid;
}

/// Waits for the child at most `limit` (then kills it); returns its exit
/// code, 128 + signal if a signal ended it, or -1 if it had to be killed.
int join(pid_t pid, clk::duration limit = 30s) {
  const auto end = clk::now() + limit;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return -2;
    if (clk::now() > end) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return -1;
    }
    std::this_thread::sleep_for(1ms);
  }
}

template <class P>
bool eventually(P pred, clk::duration limit = 10s) {
  const auto end = clk::now() + limit;
  while (!pred()) {
    if (clk::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct point {
  double x;
  std::int32_t y;
  char tag[4];
};

struct alignas(32) wide {
  std::int64_t v[4];
};

}  // namespace

// The range constructor takes only ranges whose elements convert to T.
static_assert(std::is_constructible_v<mp::Array<int>, std::vector<double>>);
static_assert(!std::is_constructible_v<mp::Array<int>, std::vector<std::string>>);
static_assert(!std::is_convertible_v<std::vector<int>, mp::Array<int>>);  // explicit
static_assert(std::is_copy_constructible_v<mp::Value<int>> && std::is_copy_assignable_v<mp::Value<int>>);
static_assert(std::is_copy_constructible_v<mp::Array<int>> && std::is_copy_assignable_v<mp::RawArray<int>>);
static_assert(std::is_same_v<decltype(std::declval<mp::Value<int>&>().get_lock()), mp::RLock&>);
static_assert(std::is_same_v<decltype(std::declval<mp::Array<int>&>().span()), std::span<int>>);
static_assert(std::ranges::contiguous_range<mp::Array<int>> && std::ranges::sized_range<mp::RawArray<int>>);

// ------------------------------------------------------------------ Value

TEST_CASE("Value: initial value, reference into shared memory, copies share it") {
  mp::Value<int> zero;
  CHECK(zero.value() == 0);
  mp::Value<std::int64_t> v(41);
  CHECK(v.value() == 41);
  v.value()++;
  CHECK(v.value() == 42);
  mp::Value<std::int64_t> copy = v;
  CHECK(copy == v);
  copy.value() = 7;
  CHECK(v.value() == 7);
  CHECK(&copy.value() == &v.value());
  mp::Value<std::int64_t> other(7);
  CHECK_FALSE(other == v);
  CHECK(other != v);
  other = v;
  CHECK(other == v);
  mp::Value<double> d(2.5, false);
  CHECK(d.value() == 2.5);
  mp::Value<point> p(point{1.5, -3, {'a', 'b', 'c', 0}});
  CHECK(p.value().x == 1.5);
  CHECK(p.value().y == -3);
  CHECK(std::string(p.value().tag) == "abc");
  mp::Value<wide> w(wide{{1, 2, 3, 4}});
  CHECK(reinterpret_cast<std::uintptr_t>(&w.value()) % 32 == 0);
  CHECK(w.value().v[3] == 4);
  mp::Value<bool> flag(true);
  CHECK(flag.value());
}

TEST_CASE("Value: get_lock is an RLock shared by every copy") {
  mp::Value<int> v(0);
  mp::Value<int> copy = v;
  CHECK(v.get_lock() == copy.get_lock());
  CHECK_FALSE(v.get_lock() == mp::Value<int>(0).get_lock());
  {
    std::lock_guard outer(v.get_lock());
    std::lock_guard inner(copy.get_lock());  // re-entrant
    CHECK(v.get_lock().locked());
    v.value() += 1;
  }
  CHECK_FALSE(v.get_lock().locked());
  CHECK_THROWS_AS(v.get_lock().release(), mp::ProcessError);
  mp::Value<int> unlocked(5, false);  // the lock exists anyway
  CHECK(unlocked.get_lock().acquire(false));
  unlocked.get_lock().release();
  const mp::Value<int>& cref = v;
  mp::RLock& lock = cref.get_lock();
  CHECK(lock.acquire());
  lock.release();
}

TEST_CASE("Value: 4 processes x 50k increments under get_lock() end exact") {
  mp::Value<std::int64_t> v(0);
  constexpr int procs = 4, n = 50000;
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p)
    pids.push_back(fork_child([&] {
      for (int i = 0; i < n; ++i) {
        std::lock_guard g(v.get_lock());
        v.value() = v.value() + 1;
      }
      return 0;
    }));
  for (pid_t pid : pids) CHECK(join(pid, 60s) == 0);
  CHECK(v.value() == std::int64_t{procs} * n);
}

TEST_CASE("Value: 2 threads x 50k increments under get_lock() end exact") {
  mp::Value<std::int64_t> v(0);
  auto work = [&] {
    for (int i = 0; i < 50000; ++i) {
      std::lock_guard g(v.get_lock());
      v.value() += 1;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  CHECK(v.value() == 100000);
}

TEST_CASE("Value: a child SIGKILLed holding get_lock() does not block the others") {
  mp::Value<int> v(0);
  const pid_t pid = fork_child([&] {
    v.get_lock().acquire();
    v.value() = 1;
    for (;;) ::pause();
    return 0;
  });
  REQUIRE(eventually([&] { return v.value() == 1; }));
  ::kill(pid, SIGKILL);
  const pid_t other = fork_child([&] {
    const auto t0 = clk::now();
    if (!v.get_lock().acquire(10s)) return 1;
    if (clk::now() - t0 > 2s) return 2;
    v.value() = 2;
    v.get_lock().release();
    return 0;
  });
  CHECK(join(other) == 0);
  CHECK(v.value() == 2);
  const auto t0 = clk::now();
  CHECK(v.get_lock().acquire(10s));
  CHECK(clk::now() - t0 < 2s);
  v.get_lock().release();
  CHECK(join(pid) == 128 + SIGKILL);
}

// ------------------------------------------------------------------ RawValue

TEST_CASE("RawValue: no lock, shared between copies and processes") {
  mp::RawValue<double> r;
  CHECK(r.value() == 0.0);
  mp::RawValue<std::uint64_t> u(9);
  mp::RawValue<std::uint64_t> copy = u;
  CHECK(copy == u);
  CHECK_FALSE(mp::RawValue<std::uint64_t>(9) == u);
  const pid_t pid = fork_child([&] {
    if (copy.value() != 9) return 1;
    copy.value() = 1234;
    return 0;
  });
  CHECK(join(pid) == 0);
  CHECK(u.value() == 1234);
}

// ------------------------------------------------------------------ Array

TEST_CASE("Array: zero-filled, size, index, iteration, span") {
  mp::Array<std::int32_t> a(10);
  CHECK(a.size() == 10);
  for (auto x : a) CHECK(x == 0);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::int32_t>(i * i);
  CHECK(a[3] == 9);
  CHECK(std::accumulate(a.begin(), a.end(), 0) == 285);
  std::span<std::int32_t> s = a.span();
  CHECK(s.size() == 10);
  CHECK(s.data() == &a[0]);
  s[9] = -1;
  CHECK(a[9] == -1);
  CHECK(a.end() - a.begin() == 10);
  for (auto& x : a) x = 1;
  CHECK(std::accumulate(a.begin(), a.end(), 0) == 10);
  mp::Array<double> empty(0);
  CHECK(empty.size() == 0);
  CHECK(empty.begin() == empty.end());
  CHECK(empty.span().empty());
  mp::Array<point> points(3);
  CHECK(points[2].x == 0.0);
  points[2].y = 5;
  CHECK(points.span()[2].y == 5);
  mp::Array<long double> ld(4);
  CHECK(reinterpret_cast<std::uintptr_t>(ld.data()) % alignof(long double) == 0);
  mp::Array<wide> ws(2);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % 32 == 0);
}

TEST_CASE("Array: from an initializer list and from ranges") {
  mp::Array<int> a{1, 2, 3};
  CHECK(a.size() == 3);
  CHECK(std::vector<int>(a.begin(), a.end()) == std::vector<int>{1, 2, 3});
  mp::Array<int> one{5};  // braces: one element, as std::vector
  CHECK(one.size() == 1);
  CHECK(one[0] == 5);
  mp::Array<int> five(5);  // parentheses: five zeros
  CHECK(five.size() == 5);
  const std::vector<double> d{1.9, -2.5, 3.0};
  mp::Array<int> converted(d);
  CHECK(std::vector<int>(converted.begin(), converted.end()) == std::vector<int>{1, -2, 3});
  const std::list<short> l{4, 5, 6, 7};
  mp::Array<long> from_list(l);
  CHECK(from_list.size() == 4);
  CHECK(from_list[3] == 7);
  mp::Array<int> from_view(std::views::iota(0, 100) | std::views::filter([](int i) { return i % 10 == 0; }));
  CHECK(from_view.size() == 10);
  CHECK(from_view[9] == 90);
  std::istringstream in("3 1 4 1 5 9");
  mp::Array<int> from_input(std::views::istream<int>(in));  // an input-only range
  CHECK(std::vector<int>(from_input.begin(), from_input.end()) == std::vector<int>{3, 1, 4, 1, 5, 9});
  mp::Array<char> text(std::string_view("hello"));
  CHECK(std::string(text.begin(), text.end()) == "hello");
  mp::Array<int> copy_of_other_array(converted.span(), false);  // new array, same elements
  CHECK_FALSE(copy_of_other_array == converted);
  CHECK(copy_of_other_array[2] == 3);
  mp::RawArray<int> raw_from_array(a);
  CHECK(raw_from_array.size() == 3);
  mp::Array<int> unlocked({1, 2}, false);
  CHECK(unlocked.size() == 2);
}

TEST_CASE("Array: copies share memory and lock, == is identity") {
  mp::Array<int> a(4);
  mp::Array<int> b = a;
  CHECK(a == b);
  CHECK(a.data() == b.data());
  CHECK(a.get_lock() == b.get_lock());
  b[1] = 11;
  CHECK(a[1] == 11);
  mp::Array<int> c{0, 11, 0, 0};
  CHECK_FALSE(a == c);
  c = a;
  CHECK(c == a);
  const mp::Array<int>& cref = a;
  cref[2] = 3;  // a const handle still reaches mutable shared elements
  CHECK(a[2] == 3);
  {
    std::lock_guard g(cref.get_lock());
    CHECK(a.get_lock().locked());
  }
}

TEST_CASE("Array: children write disjoint slots and increment under get_lock") {
  mp::Array<std::int64_t> a(8);
  constexpr int procs = 3, n = 20000;
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p)
    pids.push_back(fork_child([&, p] {
      a[1 + static_cast<std::size_t>(p)] = 100 + p;
      for (int i = 0; i < n; ++i) {
        std::lock_guard g(a.get_lock());
        a[0] = a[0] + 1;
      }
      return 0;
    }));
  for (pid_t pid : pids) CHECK(join(pid, 60s) == 0);
  CHECK(a[0] == std::int64_t{procs} * n);
  CHECK(a[1] == 100);
  CHECK(a[2] == 101);
  CHECK(a[3] == 102);
  CHECK(a[4] == 0);
}

// ------------------------------------------------------------------ RawArray

TEST_CASE("RawArray: constructors, access and sharing with a child") {
  mp::RawArray<std::uint8_t> r(16);
  CHECK(r.size() == 16);
  for (auto x : r) CHECK(x == 0);
  mp::RawArray<double> init{0.5, 1.5};
  CHECK(init[1] == 1.5);
  mp::RawArray<float> ranged(std::vector<int>{1, 2, 3});
  CHECK(ranged[2] == 3.0f);
  mp::RawArray<std::uint8_t> copy = r;
  CHECK(copy == r);
  const pid_t pid = fork_child([&] {
    for (std::size_t i = 0; i < copy.size(); ++i) copy[i] = static_cast<std::uint8_t>(i + 1);
    return 0;
  });
  CHECK(join(pid) == 0);
  CHECK(r[0] == 1);
  CHECK(r[15] == 16);
  CHECK(r.span().back() == 16);
}

// ------------------------------------------------------------------ transfer

namespace {

using all_handles =
    std::tuple<mp::Value<std::int64_t>, mp::Array<double>, mp::RawValue<point>, mp::RawArray<char>>;

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::byte b : bytes) {
    s += digits[std::to_integer<unsigned>(b) >> 4];
    s += digits[std::to_integer<unsigned>(b) & 15];
  }
  return s;
}
std::vector<std::byte> from_hex(std::string_view s) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<std::byte>(nibble(s[i]) * 16 + nibble(s[i + 1])));
  return out;
}

// The exec'd child: a fresh process without the parent's mappings, so
// loads() attaches every segment by name (as under spawn).
int attached_child(std::span<const std::byte> bytes) {
  auto [value, array, raw_value, raw_array] = mp::loads<all_handles>(bytes);
  // >= : the parent increments concurrently.
  if (value.value() < 40 || array.size() != 3 || array[2] != 3.5) return 10;
  if (raw_value.value().y != 7 || raw_array.size() != 5 || raw_array[0] != 'h') return 11;
  for (int i = 0; i < 1000; ++i) {
    std::lock_guard g(value.get_lock());
    value.value() += 1;
  }
  {
    std::lock_guard g(array.get_lock());
    array[0] = -1.0;
  }
  raw_value.value().y = 8;
  raw_array[0] = 'j';
  return 0;
}

// Runs before Catch2's main in the exec'd child, and never returns into it.
const int attached_child_hook = [] {
  if (const char* hex = std::getenv("MP_TEST_SHAREDCTYPES_ATTACH")) {
    int code = 97;
    try {
      code = attached_child(from_hex(hex));
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  return 0;
}();

}  // namespace

TEST_CASE("transfer: handles round-trip to the same memory and lock") {
  static_assert(mp::Transferable<mp::Value<int>> && mp::Transferable<mp::Array<point>> &&
                mp::Transferable<mp::RawValue<double>> && mp::Transferable<mp::RawArray<char>>);
  mp::Value<int> v(3);
  auto v2 = mp::loads<mp::Value<int>>(mp::dumps(v));
  CHECK(v2 == v);
  CHECK(v2.get_lock() == v.get_lock());
  v2.value() = 4;
  CHECK(v.value() == 4);
  mp::Array<point> a(2);
  auto a2 = mp::loads<mp::Array<point>>(mp::dumps(a));
  CHECK(a2 == a);
  CHECK(a2.size() == 2);
  CHECK(a2.data() == a.data());
  CHECK(a2.get_lock() == a.get_lock());
  mp::RawValue<double> rv(1.0);
  CHECK(mp::loads<mp::RawValue<double>>(mp::dumps(rv)) == rv);
  mp::RawArray<char> ra{'a', 'b'};
  auto ra2 = mp::loads<mp::RawArray<char>>(mp::dumps(ra));
  CHECK(ra2 == ra);
  CHECK(ra2[1] == 'b');
  // Element types must match: an Array<int>'s segment is not an Array<long>'s.
  auto bytes = mp::dumps(mp::RawArray<int>(3));
  const auto tag = mp::dumps(mp::RawArray<long>(1));
  std::copy_n(tag.begin(), 8, bytes.begin());
  CHECK_THROWS_AS(mp::loads<mp::RawArray<long>>(bytes), mp::ProcessError);
}

TEST_CASE("transfer: a freshly exec'd process attaches Value and Array by name") {
  mp::Value<std::int64_t> value(40);
  mp::Array<double> array{1.5, 2.5, 3.5};
  mp::RawValue<point> raw_value(point{0.0, 7, {}});
  mp::RawArray<char> raw_array(std::string_view("hello"));
  const auto hex = to_hex(mp::dumps(all_handles{value, array, raw_value, raw_array}));
  const pid_t pid = fork_child([&] {
    ::setenv("MP_TEST_SHAREDCTYPES_ATTACH", hex.c_str(), 1);
    ::execl("/proc/self/exe", "/proc/self/exe", static_cast<char*>(nullptr));
    return 96;
  });
  for (int i = 0; i < 1000; ++i) {
    std::lock_guard g(value.get_lock());
    value.value() += 1;
  }
  CHECK(join(pid) == 0);
  CHECK(value.value() == 2040);
  CHECK(array[0] == -1.0);
  CHECK(raw_value.value().y == 8);
  CHECK(raw_array[0] == 'j');
}
