// Manager and its proxies: every member, any transferable key/value, the
// seed tutorials' programs, growth, processes killed in the middle of an
// operation, shutdown, transfer to forked and exec'd processes.
#include <multiprocessing/managers.hpp>
#include <multiprocessing/pool.hpp>
#include <multiprocessing/process.hpp>
#include <multiprocessing/queues.hpp>
#include <multiprocessing/reduction.hpp>
#include <multiprocessing/synchronize.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "catch.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;

namespace {

// ---- children: they report through their exit code and never assert ----

/// Starts a child running f(args...), whose int result is its exit code
/// (97: it threw a std::exception, 98: something else).
template <class F, class... A>
mp::Process start(F f, A... args) {
  mp::Process p(
      [f](A... a) {
        int code = 96;
        try {
          code = f(std::move(a)...);
        } catch (const std::exception&) {
          code = 97;
        } catch (...) {
          code = 98;
        }
        ::_exit(code);
      },
      std::move(args)...);
  p.start();
  return p;
}

/// The child's exit code (-signal if killed); kills it after `limit`.
int join(mp::Process& p, std::chrono::seconds limit = 60s) {
  if (!p.join(limit)) {
    p.kill();
    p.join();
    return -1000;
  }
  return *p.exitcode();
}

bool shm_exists(const std::string& name) {
  return ::access(("/dev/shm" + name).c_str(), F_OK) == 0;
}

/// Restores the default segment reservation when a test made it small.
struct small_reservation {
  explicit small_reservation(std::uint64_t bytes) : saved(mp::detail::manager_reservation) {
    mp::detail::manager_reservation = bytes;
  }
  ~small_reservation() { mp::detail::manager_reservation = saved; }
  std::uint64_t saved;
};

/// The data segment names an anchor records (current and spare).
template <class P>
std::pair<std::string, std::string> data_names(const P& p) {
  auto c = mp::detail::container::attach(p.name(), mp::detail::type_hash<P>());
  auto& a = c->anchor();
  const auto gen = a.generation.load();
  return {a.data[gen & 1].get(), a.data[(gen + 1) & 1].get()};
}

struct point {  // no padding: keys compare by their bytes
  std::int64_t x;
  double y;
  friend bool operator<(const point& a, const point& b) { return std::tie(a.x, a.y) < std::tie(b.x, b.y); }
  friend bool operator==(const point&, const point&) = default;
};

}  // namespace

// ---------------------------------------------------------------------------
// DictProxy
// ---------------------------------------------------------------------------

TEST_CASE("dict: operator[], get, set, contains, erase, size, clear") {
  mp::Manager m;
  auto d = m.dict<std::string, int>();
  CHECK(d.empty());
  d["a"] = 1;
  d.set("b", 2);
  CHECK(d.size() == 2);
  CHECK(int(d["a"]) == 1);
  CHECK(d["b"] == 2);
  CHECK(d.at("b") == 2);
  CHECK(d.get("a") == std::optional<int>(1));
  CHECK_FALSE(d.get("zz").has_value());
  CHECK(d.get("zz", 42) == 42);
  CHECK(d.contains("a"));
  CHECK_FALSE(d.contains("zz"));
  CHECK_THROWS_AS(int(d["zz"]), mp::KeyError);
  CHECK_THROWS_AS(d.at("zz"), mp::ValueError);  // KeyError is a ValueError, a ProcessError
  d["a"] = 10;  // overwrite
  CHECK(d["a"] == 10);
  CHECK(d.size() == 2);
  d["a"] = d["b"];
  CHECK(d["a"] == 2);
  CHECK(d.erase("a") == 1);
  CHECK(d.erase("a") == 0);
  CHECK(d.size() == 1);
  d.clear();
  CHECK(d.size() == 0);
  CHECK_FALSE(d.contains("b"));
  d["c"] = 3;  // usable after clear
  CHECK(d.copy() == std::map<std::string, int>{{"c", 3}});
}

TEST_CASE("dict: pop, popitem, setdefault, update, keys/values/items in insertion order, copy") {
  mp::Manager m;
  auto d = m.dict<std::string, int>({{"x", 1}, {"y", 2}});
  d.update(std::map<std::string, int>{{"z", 3}, {"x", 10}});
  d.update({{"w", 4}});
  CHECK(d.keys() == std::vector<std::string>{"x", "y", "z", "w"});
  CHECK(d.values() == std::vector<int>{10, 2, 3, 4});
  CHECK(d.items() == std::vector<std::pair<std::string, int>>{{"x", 10}, {"y", 2}, {"z", 3}, {"w", 4}});
  CHECK(d.copy() == std::map<std::string, int>{{"w", 4}, {"x", 10}, {"y", 2}, {"z", 3}});
  CHECK(d.pop("y") == 2);
  CHECK_THROWS_AS(d.pop("y"), mp::KeyError);
  CHECK(d.pop("y", -1) == -1);
  CHECK(d.setdefault("x", 99) == 10);
  CHECK(d.setdefault("n", 99) == 99);
  CHECK(d["n"] == 99);
  CHECK(d.popitem() == std::pair<std::string, int>{"n", 99});  // newest first (Python 3.7+)
  CHECK(d.popitem() == std::pair<std::string, int>{"w", 4});
  CHECK(d.size() == 2);
  d.clear();
  CHECK_THROWS_AS(d.popitem(), mp::KeyError);
  // A key erased and set again goes to the end, as in Python.
  d["p"] = 1;
  d["q"] = 2;
  d.erase("p");
  d["p"] = 3;
  CHECK(d.keys() == std::vector<std::string>{"q", "p"});
}

TEST_CASE("dict: apply and compound assignment are atomic read-modify-writes") {
  mp::Manager m;
  auto d = m.dict<std::string, long>({{"count", 100}});
  d["count"] -= 1;
  d["count"] += 11;
  d["count"] *= 2;
  ++d["count"];
  --d["count"];
  CHECK(d["count"] == 220);
  CHECK(d.apply("count", [](long& v) { v /= 4; }) == 55);
  CHECK_THROWS_AS(d.apply("none", [](long& v) { ++v; }), mp::KeyError);
  // fn throws: nothing changes.
  CHECK_THROWS_AS(d.apply("count", [](long& v) {
    v = 0;
    throw std::runtime_error("no");
  }),
                  std::runtime_error);
  CHECK(d["count"] == 55);
  // Using the same dict inside apply is refused instead of deadlocking.
  CHECK_THROWS_AS(d.apply("count", [&](long&) { (void)d.size(); }), mp::ProcessError);
  CHECK(d.size() == 1);
}

TEST_CASE("dict: keys and values of any transferable type") {
  mp::Manager m;
  auto d = m.dict<std::vector<int>, std::map<std::string, std::vector<double>>>();
  d[{1, 2, 3}] = {{"a", {1.5, 2.5}}};
  d[{}] = {};
  CHECK(d.get({1, 2, 3})->at("a") == std::vector<double>{1.5, 2.5});
  CHECK(d.get({})->empty());
  auto p = m.dict<point, std::optional<std::string>>();
  p[point{1, 2.5}] = "one";
  p[point{2, 0.0}] = std::nullopt;
  CHECK(p[point{1, 2.5}].get() == std::optional<std::string>("one"));
  CHECK(p.contains(point{2, 0.0}));
  CHECK_FALSE(p.contains(point{2, 1.0}));
  auto big = m.dict<int, std::string>();
  const std::string large(300000, 'x');  // bigger than a container's first segment
  big[1] = large;
  CHECK(big[1] == large);
}

TEST_CASE("dict: grows far past its first segment, across several segments") {
  small_reservation small(256 * 1024);
  mp::Manager m;
  auto d = m.dict<std::int64_t, std::string>();
  const auto first = data_names(d).first;
  for (std::int64_t i = 0; i < 20000; ++i) d[i] = std::to_string(i * 7);
  CHECK(data_names(d).first != first);
  CHECK_FALSE(shm_exists(first));  // the old segment was removed when it moved
  CHECK(data_names(d).second.empty());
  CHECK(d.size() == 20000);
  for (std::int64_t i = 0; i < 20000; i += 997) CHECK(d[i] == std::to_string(i * 7));
  // Overwrites and erases leave garbage that moving to a new segment sheds.
  for (int round = 0; round < 5; ++round)
    for (std::int64_t i = 0; i < 20000; ++i) d[i] = std::to_string(i + round);
  for (std::int64_t i = 0; i < 20000; i += 2) d.erase(i);
  CHECK(d.size() == 10000);
  CHECK(d[1] == "5");
  CHECK(d.keys().front() == 1);
}

TEST_CASE("dict and set of ints (packed tables): holes, order, popitem, growth across segments") {
  small_reservation small(64 * 1024);
  mp::Manager m;
  auto d = m.dict<std::int64_t, std::int64_t>();
  const auto first = data_names(d).first;
  for (std::int64_t i = 0; i < 5000; ++i) d[i] = i * 3;
  CHECK(data_names(d).first != first);
  CHECK_FALSE(shm_exists(first));
  for (std::int64_t i = 0; i < 5000; i += 2) CHECK(d.erase(i) == 1);
  CHECK(d.erase(0) == 0);
  CHECK(d.size() == 2500);
  CHECK_FALSE(d.contains(4));
  CHECK(d.get(4, -1) == -1);
  d[4] = 40;   // re-inserted: now the newest
  d[1] = -1;   // overwritten: keeps its place
  std::vector<std::int64_t> want;
  for (std::int64_t i = 1; i < 5000; i += 2) want.push_back(i);
  want.push_back(4);
  CHECK(d.keys() == want);
  CHECK(d[1] == -1);
  CHECK(d[4999] == 4999 * 3);
  CHECK(d.popitem() == std::pair<std::int64_t, std::int64_t>(4, 40));
  CHECK(d.popitem() == std::pair<std::int64_t, std::int64_t>(4999, 4999 * 3));
  CHECK(d.pop(1) == -1);
  CHECK(d.size() == 2498);
  CHECK(d.setdefault(7, 0) == 21);
  CHECK(d.setdefault(8, 80) == 80);
  d[9] += 1;
  CHECK(d[9] == 28);
  // Erase most, then grow again: the holes go when the arrays are rebuilt.
  for (std::int64_t i = 0; i < 5000; ++i) d.erase(i);
  CHECK(d.empty());
  for (std::int64_t i = 0; i < 3000; ++i) d[-i] = i;
  CHECK(d.size() == 3000);
  CHECK(d.keys().front() == 0);
  CHECK(d.values().back() == 2999);
  auto doubles = m.dict<double, float>({{0.5, 1.5f}, {-0.0, 2.5f}, {0.0, 3.5f}});
  CHECK(doubles.size() == 3);  // keys compare by their bytes: -0.0 and 0.0 differ
  CHECK(doubles[0.5] == 1.5f);
  auto s = m.set<int>({3, 1, 2});
  s.add(1);
  s.discard(3);
  CHECK(s.values() == std::vector<int>{1, 2});
  CHECK(s.pop() == 2);
  CHECK(s.contains(1));
  for (int i = 0; i < 2000; ++i) s.add(i);
  CHECK(s.size() == 2000);
  CHECK(s.copy().size() == 2000);
}

TEST_CASE("dict: a child that grows it moves it; the parent follows") {
  small_reservation small(128 * 1024);
  mp::Manager m;
  auto d = m.dict<int, std::vector<int>>();
  d[-1] = {1};
  auto p = start(
      [](mp::DictProxy<int, std::vector<int>> d) {
        for (int i = 0; i < 5000; ++i) d[i] = std::vector<int>(10, i);
        return 0;
      },
      d);
  CHECK(join(p) == 0);
  CHECK(d.size() == 5001);
  CHECK(d[4999] == std::vector<int>(10, 4999));
  CHECK(d[-1] == std::vector<int>{1});
}

// ---------------------------------------------------------------------------
// ListProxy, SetProxy, NamespaceProxy, ValueProxy, ArrayProxy
// ---------------------------------------------------------------------------

TEST_CASE("list: append, extend, index, negative index, insert, pop, remove, count, clear") {
  mp::Manager m;
  auto l = m.list<std::string>({"a", "b"});
  l.append("c");
  l.extend(std::vector<std::string>{"d", "e"});
  l.extend({"f"});
  CHECK(l.size() == 6);
  CHECK(l.copy() == std::vector<std::string>{"a", "b", "c", "d", "e", "f"});
  CHECK(l[0] == "a");
  CHECK(l[-1] == "f");
  CHECK(l.get(-6) == "a");
  CHECK_THROWS_AS(l.get(6), mp::IndexError);
  CHECK_THROWS_AS(l.get(-7), mp::IndexError);
  CHECK_THROWS_AS(std::string(l[10]), mp::IndexError);
  l[1] = "B";
  l.set(-2, "E");
  CHECK_THROWS_AS(l.set(99, "x"), mp::IndexError);
  l.insert(0, "start");
  l.insert(-1, "before-last");
  l.insert(100, "end");  // clamped, as in Python
  l.insert(-100, "first");
  CHECK(l.copy() == std::vector<std::string>{"first", "start", "a", "B", "c", "d", "E",
                                             "before-last", "f", "end"});
  CHECK(l.pop() == "end");
  CHECK(l.pop(0) == "first");
  CHECK(l.pop(2) == "B");
  CHECK_THROWS_AS(l.pop(50), mp::IndexError);
  l.append("c");
  CHECK(l.count("c") == 2);
  CHECK(l.index("c") == 2);
  l.remove("c");
  CHECK(l.count("c") == 1);
  CHECK_THROWS_AS(l.remove("zz"), mp::ValueError);
  CHECK_THROWS_AS(l.index("zz"), mp::ValueError);
  CHECK(l.copy() == std::vector<std::string>{"start", "a", "d", "E", "before-last", "f", "c"});
  l.clear();
  CHECK(l.empty());
  CHECK_THROWS_AS(l.pop(), mp::IndexError);
  l.append("again");
  CHECK(l.copy() == std::vector<std::string>{"again"});
}

TEST_CASE("list: apply, compound assignment, many items") {
  mp::Manager m;
  auto l = m.list<int>();
  for (int i = 0; i < 3000; ++i) l.append(i);
  l[5] += 1000;
  ++l[-1];
  CHECK(l.apply(0, [](int& v) { v = 77; }) == 77);
  auto all = l.copy();
  REQUIRE(all.size() == 3000);
  CHECK(all[0] == 77);
  CHECK(all[5] == 1005);
  CHECK(all[2999] == 3000);
  for (int i = 0; i < 1000; ++i) (void)l.pop(1000);
  CHECK(l.size() == 2000);
  CHECK(l[1000] == 2000);
}

TEST_CASE("set: add, discard, remove, contains, pop, update, copy") {
  mp::Manager m;
  auto s = m.set<int>({3, 1, 2});
  s.add(2);
  s.add(4);
  CHECK(s.size() == 4);
  CHECK(s.contains(4));
  s.discard(4);
  s.discard(40);
  CHECK_FALSE(s.contains(4));
  s.remove(3);
  CHECK_THROWS_AS(s.remove(3), mp::KeyError);
  s.update(std::vector<int>{7, 8, 1});
  CHECK(s.copy() == std::set<int>{1, 2, 7, 8});
  CHECK(s.values() == std::vector<int>{1, 2, 7, 8});
  CHECK(s.pop() == 8);
  CHECK(s.size() == 3);
  s.clear();
  CHECK(s.empty());
  CHECK_THROWS_AS(s.pop(), mp::KeyError);
}

TEST_CASE("Namespace: set and get attributes of any type; missing and wrong type") {
  mp::Manager m;
  auto ns = m.Namespace();
  ns.set("x", 10);
  ns.set("name", std::string("worker"));
  ns.set("v", std::vector<double>{1.0, 2.0});
  CHECK(ns.get<int>("x") == 10);
  CHECK(ns.get<std::string>("name") == "worker");
  CHECK(ns.get<std::vector<double>>("v").size() == 2);
  ns.set("x", std::string("now a string"));  // an attribute may change type
  CHECK(ns.get<std::string>("x") == "now a string");
  CHECK_THROWS_AS(ns.get<int>("x"), mp::UnpicklingError);
  CHECK_THROWS_AS(ns.get<int>("nope"), mp::KeyError);
  CHECK(ns.get<int>("nope", 5) == 5);
  CHECK(ns.contains("name"));
  CHECK(ns.names() == std::vector<std::string>{"x", "name", "v"});
  CHECK(ns.erase("name") == 1);
  CHECK_FALSE(ns.contains("name"));
}

TEST_CASE("Value and Array proxies") {
  mp::Manager m;
  auto v = m.Value<double>(1.5);
  CHECK(v.get() == 1.5);
  CHECK(v.value() == 1.5);
  v.set(2.5);
  CHECK(v.apply([](double& x) { x *= 2; }) == 5.0);
  auto s = m.Value<std::string>("text");
  CHECK(s.get() == "text");
  auto a = m.Array<int>(5);
  CHECK(a.size() == 5);
  CHECK(a.copy() == std::vector<int>(5, 0));
  a[2] = 7;
  a[-1] += 3;
  CHECK(a.copy() == std::vector<int>{0, 0, 7, 0, 3});
  CHECK_THROWS_AS(a.set(5, 1), mp::IndexError);
  auto b = m.Array<int>({1, 2, 3});
  CHECK(b.copy() == std::vector<int>{1, 2, 3});
  auto p = start(
      [](mp::ValueProxy<double> v, mp::ArrayProxy<int> a) {
        v.set(-1.0);
        a[0] = 11;
        return 0;
      },
      v, a);
  CHECK(join(p) == 0);
  CHECK(v.get() == -1.0);
  CHECK(a[0] == 11);
}

TEST_CASE("copies are one container; == is identity") {
  mp::Manager m;
  auto d = m.dict<int, int>();
  auto d2 = d;
  d2[1] = 2;
  CHECK(d[1] == 2);
  CHECK(d == d2);
  CHECK_FALSE(d == m.dict<int, int>());
  auto l = m.list<int>();
  CHECK(l == l);
}

// ---------------------------------------------------------------------------
// The seed tutorials' programs
// ---------------------------------------------------------------------------

TEST_CASE("seed: 100 processes each `with lock: d[\"count\"] -= 1` end at exactly 0") {
  mp::Manager m;
  auto d = m.dict<std::string, int>({{"count", 100}});
  auto lock = m.Lock();
  std::vector<mp::Process> procs;
  for (int i = 0; i < 100; ++i)
    procs.push_back(start(
        [](mp::DictProxy<std::string, int> d, mp::Lock lock) {
          std::lock_guard guard(lock);
          d["count"] = d["count"] - 1;  // read, then write: the lock makes it safe
          return 0;
        },
        d, lock));
  int failures = 0;
  for (auto& p : procs) failures += join(p) != 0;
  CHECK(failures == 0);
  CHECK(d["count"] == 0);
}

TEST_CASE("seed: children append to a shared list and set dict entries the parent reads") {
  mp::Manager m;
  auto results = m.list<std::string>();
  auto squares = m.dict<int, int>();
  std::vector<mp::Process> procs;
  for (int i = 0; i < 8; ++i)
    procs.push_back(start(
        [](int i, mp::ListProxy<std::string> results, mp::DictProxy<int, int> squares) {
          results.append("worker " + std::to_string(i));
          squares[i] = i * i;
          return 0;
        },
        i, results, squares));
  for (auto& p : procs) CHECK(join(p) == 0);
  auto got = results.copy();
  std::sort(got.begin(), got.end());
  std::vector<std::string> want;
  for (int i = 0; i < 8; ++i) want.push_back("worker " + std::to_string(i));
  CHECK(got == want);
  CHECK(squares.size() == 8);
  for (int i = 0; i < 8; ++i) CHECK(squares[i] == i * i);
}

TEST_CASE("without the lock, d[k] -= 1 is still exact: compound assignment is atomic") {
  mp::Manager m;
  auto d = m.dict<std::string, long>({{"count", 0}});
  std::vector<mp::Process> procs;
  for (int i = 0; i < 4; ++i)
    procs.push_back(start(
        [](mp::DictProxy<std::string, long> d) {
          for (int j = 0; j < 2000; ++j) d["count"] += 1;
          return 0;
        },
        d));
  for (auto& p : procs) CHECK(join(p) == 0);
  CHECK(d["count"] == 8000);
}

TEST_CASE("threads: 4 threads x 2000 apply increments end exact") {
  mp::Manager m;
  auto d = m.dict<int, long>({{0, 0}});
  auto l = m.list<int>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([d, l, t] {
      for (int j = 0; j < 2000; ++j) {
        d.apply(0, [](long& v) { ++v; });
        if (j % 10 == 0) l.append(t);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(d[0] == 8000);
  CHECK(l.size() == 800);
}

// ---------------------------------------------------------------------------
// Synchronization objects from the manager
// ---------------------------------------------------------------------------

TEST_CASE("Manager's Lock, RLock, Semaphore, Event, Condition, Barrier work across processes") {
  mp::Manager m;
  auto lock = m.Lock();
  auto rlock = m.RLock();
  auto sem = m.Semaphore(0);
  auto event = m.Event();
  auto cond = m.Condition();
  auto barrier = m.Barrier(2);
  auto counter = m.Value<int>(0);
  auto p = start(
      [](mp::Lock lock, mp::RLock rlock, mp::Semaphore sem, mp::Event event, mp::Condition cond,
         mp::Barrier barrier, mp::ValueProxy<int> counter) {
        {
          std::lock_guard g(lock);
          std::lock_guard r1(rlock);
          std::lock_guard r2(rlock);
          counter.set(counter.get() + 1);
        }
        sem.release();
        if (!event.wait(30s)) return 2;
        {
          std::unique_lock g(cond);
          counter.set(10);
          cond.notify_all();
        }
        return barrier.wait(30s) >= 0 ? 0 : 3;
      },
      lock, rlock, sem, event, cond, barrier, counter);
  CHECK(sem.acquire(30s));
  CHECK(counter.get() == 1);
  {
    std::unique_lock g(cond);
    event.set();
    CHECK(cond.wait_for([&] { return counter.get() == 10; }, 30s));
  }
  CHECK(barrier.wait(30s) >= 0);
  CHECK(join(p) == 0);
  CHECK(m.Semaphore(3).get_value() == 3);
  CHECK(m.BoundedSemaphore(1).get_value() == 1);
}

TEST_CASE("Manager's Queue and JoinableQueue carry messages between processes") {
  mp::Manager m;
  auto q = m.Queue<std::string>();
  auto jq = m.JoinableQueue<int>(4);
  auto p = start(
      [](mp::Queue<std::string> q, mp::JoinableQueue<int> jq) {
        q.put("hello from child");
        for (int i = 0; i < 3; ++i) {
          jq.get();
          jq.task_done();
        }
        return 0;
      },
      q, jq);
  CHECK(q.get(30s) == "hello from child");
  for (int i = 0; i < 3; ++i) jq.put(i);
  jq.join();
  CHECK(join(p) == 0);
}

// ---------------------------------------------------------------------------
// Transfer
// ---------------------------------------------------------------------------

TEST_CASE("transfer: every proxy round-trips to the same container; wrong type refused") {
  mp::Manager m;
  auto d = m.dict<std::string, int>();
  auto l = m.list<int>();
  auto s = m.set<std::string>();
  auto ns = m.Namespace();
  auto v = m.Value<int>(3);
  auto a = m.Array<double>(2);
  static_assert(mp::Transferable<mp::DictProxy<std::string, int>>);
  static_assert(mp::Transferable<mp::NamespaceProxy>);
  auto [d2, l2, s2, ns2, v2, a2] =
      mp::loads<std::tuple<decltype(d), decltype(l), decltype(s), decltype(ns), decltype(v), decltype(a)>>(
          mp::dumps(std::tuple(d, l, s, ns, v, a)));
  d2["k"] = 1;
  l2.append(2);
  s2.add("e");
  ns2.set("n", 4);
  v2.set(5);
  a2[1] = 6.5;
  CHECK(d["k"] == 1);
  CHECK(l[0] == 2);
  CHECK(s.contains("e"));
  CHECK(ns.get<int>("n") == 4);
  CHECK(v.get() == 5);
  CHECK(a[1] == 6.5);
  CHECK(d2 == d);
  // The same segment name under another proxy type's tag: the anchor records its type.
  auto bytes = mp::dumps(d);
  const auto tag = mp::dumps(m.dict<std::string, long>());
  std::copy_n(tag.begin(), 8, bytes.begin());
  CHECK_THROWS_AS((mp::loads<mp::DictProxy<std::string, long>>(bytes)), mp::ProcessError);
  // A list's name is not a Lock's segment either.
  auto lbytes = mp::dumps(l);
  std::copy_n(mp::dumps(mp::Lock()).begin(), 8, lbytes.begin());
  CHECK_THROWS_AS(mp::loads<mp::Lock>(lbytes), mp::ProcessError);
}

namespace {

std::string to_hex(std::span<const std::byte> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += digits[std::to_integer<unsigned>(b) >> 4];
    out += digits[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}
std::vector<std::byte> from_hex(std::string_view s) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  return out;
}

using exec_args = std::tuple<mp::DictProxy<std::string, int>, mp::ListProxy<std::string>,
                             mp::NamespaceProxy, mp::Lock>;

int exec_child(std::span<const std::byte> bytes) {
  auto [d, l, ns, lock] = mp::loads<exec_args>(bytes);
  std::lock_guard g(lock);
  if (d["count"] != 5) return 10;
  d["count"] -= 1;
  l.append("from exec");
  ns.set("pid", static_cast<int>(::getpid()));
  return 0;
}

// Runs before Catch2's main in the exec'd child, and never returns into it.
const int exec_child_hook = [] {
  if (const char* hex = std::getenv("MP_TEST_MANAGERS_ATTACH")) {
    int code = 97;
    try {
      code = exec_child(from_hex(hex));
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  return 0;
}();

}  // namespace

// A pool task is a function with external linkage (see docs/deviations.md).
int managers_test_pool_task(mp::DictProxy<std::string, int> d, mp::ListProxy<int> l, int i) {
  d.apply("count", [](int& v) { v += 1; });
  l.append(i);
  return static_cast<int>(::getpid());
}

TEST_CASE("transfer: proxies as pool-task arguments reach the same containers") {
  mp::Manager m;
  auto d = m.dict<std::string, int>();
  auto l = m.list<int>();
  d["count"] = 0;
  {
    mp::Pool pool(2);
    std::vector<mp::AsyncResult<int>> rs;
    for (int i = 0; i < 40; ++i) rs.push_back(pool.apply_async(&managers_test_pool_task, d, l, i));
    std::set<int> pids;
    for (auto& r : rs) pids.insert(r.get(30s));
    CHECK(pids.count(static_cast<int>(::getpid())) == 0);  // ran in workers
  }
  CHECK(d["count"].get() == 40);
  auto items = l.copy();
  std::sort(items.begin(), items.end());
  std::vector<int> expected(40);
  for (int i = 0; i < 40; ++i) expected[static_cast<std::size_t>(i)] = i;
  CHECK(items == expected);
}

TEST_CASE("transfer: a freshly exec'd process attaches proxies by name") {
  mp::Manager m;
  auto d = m.dict<std::string, int>({{"count", 5}});
  auto l = m.list<std::string>();
  auto ns = m.Namespace();
  auto lock = m.Lock();
  const std::string hex = to_hex(mp::dumps(exec_args{d, l, ns, lock}));
  auto p = start(
      [](std::string hex) {
        ::setenv("MP_TEST_MANAGERS_ATTACH", hex.c_str(), 1);
        ::execl("/proc/self/exe", "/proc/self/exe", static_cast<char*>(nullptr));
        return 96;
      },
      hex);
  CHECK(join(p) == 0);
  CHECK(d["count"] == 4);
  CHECK(l.copy() == std::vector<std::string>{"from exec"});
  CHECK(ns.get<int>("pid") == *p.pid());
}

// ---------------------------------------------------------------------------
// Shutdown and leaks
// ---------------------------------------------------------------------------

TEST_CASE("shutdown: every proxy then throws ProcessError, here and in a child; segments gone") {
  small_reservation small(64 * 1024);
  auto m = std::make_unique<mp::Manager>();
  auto d = m->dict<int, int>();
  auto l = m->list<int>();
  auto s = m->set<int>();
  auto ns = m->Namespace();
  auto v = m->Value<int>(1);
  auto a = m->Array<int>(3);
  for (int i = 0; i < 5000; ++i) d[i] = i;  // several segments
  const std::string dict_anchor = d.name();
  const auto [dict_data, spare] = data_names(d);
  CHECK(shm_exists(dict_anchor));
  CHECK(shm_exists(dict_data));
  mp::Event ready, go;
  auto p = start(
      [](mp::DictProxy<int, int> d, mp::Event ready, mp::Event go) {
        if (d[1] != 1) return 2;
        ready.set();
        if (!go.wait(30s)) return 3;
        try {
          (void)d.size();
          return 4;
        } catch (const mp::ProcessError&) {
          return 0;
        }
      },
      d, ready, go);
  REQUIRE(ready.wait(30s));
  m->shutdown();
  go.set();
  CHECK(join(p) == 0);
  CHECK_THROWS_AS(d[1] = 2, mp::ProcessError);
  CHECK_THROWS_AS(d.size(), mp::ProcessError);
  CHECK_THROWS_AS(l.append(1), mp::ProcessError);
  CHECK_THROWS_AS(s.add(1), mp::ProcessError);
  CHECK_THROWS_AS(ns.get<int>("x"), mp::ProcessError);
  CHECK_THROWS_AS(v.get(), mp::ProcessError);
  CHECK_THROWS_AS(a.copy(), mp::ProcessError);
  CHECK_THROWS_AS((m->dict<int, int>()), mp::ProcessError);
  CHECK_THROWS_AS(m->start(), mp::ProcessError);
  CHECK_FALSE(shm_exists(dict_anchor));
  CHECK_FALSE(shm_exists(dict_data));
  m->shutdown();  // idempotent
  m.reset();
  CHECK_THROWS_AS(d.size(), mp::ProcessError);  // the proxy outlives the manager safely
}

TEST_CASE("shutdown: removes containers a forked child made; the destructor shuts down") {
  std::string anchor;
  {
    mp::Manager m;
    auto names = m.list<std::string>();
    mp::Process p(
        [&m](mp::ListProxy<std::string> names) {
          auto d = m.dict<int, int>();  // made in the child
          d[1] = 1;
          names.append(d.name());
          ::_exit(0);
        },
        names);
    p.start();
    p.join();
    CHECK(p.exitcode() == 0);
    REQUIRE(names.size() == 1);
    anchor = names[0];
    CHECK(shm_exists(anchor));
    // A forked child's copy of the Manager does not shut it down.
    mp::Process q([&m] {
      m.shutdown();
      ::_exit(0);
    });
    q.start();
    q.join();
    CHECK(names.size() == 1);
  }
  CHECK_FALSE(shm_exists(anchor));
}

TEST_CASE("leaks: a Manager leaves nothing in /dev/shm") {
  auto ours = [] {
    std::set<std::string> out;
    const std::string prefix = "mpcpp-" + std::to_string(::getpid()) + "-";
    if (DIR* dir = ::opendir("/dev/shm")) {
      while (dirent* e = ::readdir(dir))
        if (std::string(e->d_name).rfind(prefix, 0) == 0) out.insert(e->d_name);
      ::closedir(dir);
    }
    return out;
  };
  const auto before = ours();
  {
    small_reservation small(64 * 1024);
    mp::Manager m;
    auto d = m.dict<int, std::string>();
    for (int i = 0; i < 3000; ++i) d[i] = std::string(20, 'x');
    auto l = m.list<int>({1, 2, 3});
    auto ns = m.Namespace();
    ns.set("a", 1);
    auto lock = m.Lock();
    CHECK(ours().size() > before.size());
  }
  CHECK(ours() == before);
}

// ---------------------------------------------------------------------------
// Processes killed in the middle of an operation
// ---------------------------------------------------------------------------

namespace {

int g_kill_at = -1;
void kill_at_step(int step) {
  if (step == g_kill_at) ::raise(SIGKILL);
}

/// For every step k of `op` (as counted by manager_fault_hook), a child that
/// is killed at step k; after each, the container must read as `before`
/// (the operation undone) and take a further operation. Runs until op
/// completes without reaching step k. Returns how many kill points it tried.
template <class Proxy, class Read, class Op>
int kill_at_every_step(Proxy p, Read read, Op op, int first_step = 1) {
  const auto before = read(p);
  int tried = 0;
  for (int k = first_step;; ++k) {
    g_kill_at = k;
    auto child = start(
        [op](Proxy p) {
          mp::detail::manager_fault_hook = kill_at_step;
          op(p);
          return 0;
        },
        p);
    const int code = join(child);
    g_kill_at = -1;
    if (code == 0) {
      CHECK(read(p) != before);  // the operation ran to its end
      return tried;
    }
    ++tried;
    INFO("killed at step " << k);
    REQUIRE(code == -SIGKILL);
    CHECK(read(p) == before);  // takes over the dead child's lock, rolls back
    if (tried > 64) {
      FAIL("the operation never completed");
      return tried;
    }
  }
}

}  // namespace

TEST_CASE("crash: a dict insert that resizes, killed at every step, is undone") {
  mp::Manager m;
  auto d = m.dict<std::string, int>();
  // The first insert makes arrays for this many entries; once full, the next insert resizes.
  const int first = static_cast<int>(mp::detail::table_entries_for(mp::detail::table_index_cap_for(1)));
  for (int i = 0; i < first; ++i) d[std::to_string(i)] = i;
  auto read = [](mp::DictProxy<std::string, int> d) { return d.items(); };
  const int tried =
      kill_at_every_step(d, read, [](mp::DictProxy<std::string, int> d) { d["new"] = 99; });
  CHECK(tried >= 10);
  CHECK(d["new"] == 99);
  d["after"] = 1;
  CHECK(d.size() == static_cast<std::size_t>(first) + 2);
}

TEST_CASE("crash: a packed dict's insert, resize, overwrite, erase, popitem killed at every step are undone") {
  mp::Manager m;
  auto d = m.dict<std::int64_t, std::int64_t>();
  const auto first = static_cast<std::int64_t>(
      mp::detail::table_entries_for(mp::detail::table_index_cap_for(1)));
  for (std::int64_t i = 0; i + 1 < first; ++i) d[i] = i;
  d.erase(3);  // a hole, which the resize drops
  d[3] = 33;   // the arrays are full now
  using P = mp::DictProxy<std::int64_t, std::int64_t>;
  auto read = [](P d) { return d.items(); };
  CHECK(kill_at_every_step(d, read, [](P d) { d[100] = 100; }) >= 10);
  CHECK(kill_at_every_step(d, read, [](P d) { d[5] = -5; }) >= 1);
  CHECK(kill_at_every_step(d, read, [](P d) { d.erase(6); }) >= 2);
  CHECK(kill_at_every_step(d, read, [](P d) { (void)d.popitem(); }) >= 2);
  CHECK(d[5] == -5);
  CHECK_FALSE(d.contains(6));
  CHECK_FALSE(d.contains(100));
  CHECK(d.keys().back() == 3);
}

TEST_CASE("crash: dict overwrite, erase, clear, popitem killed at every step are undone") {
  mp::Manager m;
  auto d = m.dict<int, std::string>({{1, "one"}, {2, "two"}, {3, "three"}});
  auto read = [](mp::DictProxy<int, std::string> d) { return d.items(); };
  CHECK(kill_at_every_step(d, read, [](auto d) { d[2] = "TWO"; }) >= 2);
  CHECK(kill_at_every_step(d, read, [](auto d) { d.erase(1); }) >= 3);
  CHECK(kill_at_every_step(d, read, [](auto d) { (void)d.popitem(); }) >= 3);
  CHECK(kill_at_every_step(d, read, [](auto d) { d.apply(2, [](std::string& s) { s += "!"; }); }) >= 2);
  CHECK(kill_at_every_step(d, read, [](auto d) { d.clear(); }) >= 7);
  CHECK(d.empty());
}

TEST_CASE("crash: list append, insert, pop, extend killed at every step are undone") {
  mp::Manager m;
  auto l = m.list<int>({0, 1, 2, 3, 4, 5, 6, 7});  // full: the next append grows the array
  auto read = [](mp::ListProxy<int> l) { return l.copy(); };
  CHECK(kill_at_every_step(l, read, [](auto l) { l.append(8); }) >= 3);
  CHECK(kill_at_every_step(l, read, [](auto l) { l.insert(3, 33); }) >= 6);
  CHECK(kill_at_every_step(l, read, [](auto l) { (void)l.pop(2); }) >= 4);
  CHECK(kill_at_every_step(l, read, [](auto l) { l.extend({100, 101, 102}); }) >= 3);
  CHECK(l.size() == 12);
}

TEST_CASE("crash: killed while moving to a new segment: old or new stays whole, nothing leaks") {
  small_reservation small(16 * 1024);  // the first segment is full after a few items
  mp::Manager m;
  auto d = m.dict<int, std::string>();
  for (int i = 0; i < 3; ++i) d[i] = std::string(1000, 'a');
  for (int step : {mp::detail::fault_grow_named, mp::detail::fault_grow_filled,
                   mp::detail::fault_grow_committed}) {
    INFO("step " << step);
    const auto before = d.items();
    const auto old_data = data_names(d).first;
    g_kill_at = step;
    auto child = start(
        [](mp::DictProxy<int, std::string> d) {
          mp::detail::manager_fault_hook = kill_at_step;
          for (int k = 1000; k < 1100; ++k) d[k] = std::string(2000, 'b');  // forces a move
          return 0;
        },
        d);
    CHECK(join(child) == -SIGKILL);
    g_kill_at = -1;
    // The child died holding the lock with a half-made or unlinked segment in the spare slot.
    const auto [spare_now, spare] = data_names(d);
    (void)spare_now;
    CHECK(d.items().size() >= before.size());  // recovers
    const auto after = d.items();
    std::map<int, std::string> b(before.begin(), before.end()), a(after.begin(), after.end());
    for (const auto& [k, v] : b) CHECK(a[k] == v);  // nothing lost
    CHECK(data_names(d).second.empty());            // the spare name was removed...
    if (!spare.empty()) CHECK_FALSE(shm_exists(spare));  // ...and so was its segment
    if (data_names(d).first != old_data) CHECK_FALSE(shm_exists(old_data));
    d[5000 + step] = "works";
  }
}

TEST_CASE("crash: SIGKILL at random times during appends and updates never corrupts") {
  small_reservation small(32 * 1024);  // moves to new segments often
  mp::Manager m;
  auto l = m.list<std::int64_t>();
  auto d = m.dict<std::int64_t, std::string>();
  std::mt19937 rng(12345);
  for (int round = 0; round < 12; ++round) {
    mp::Event started;
    auto child = start(
        [](mp::ListProxy<std::int64_t> l, mp::DictProxy<std::int64_t, std::string> d,
           mp::Event started) {
          started.set();
          for (std::int64_t i = static_cast<std::int64_t>(l.size());; ++i) {
            l.append(i);
            d[i % 50] = std::string(static_cast<std::size_t>(i % 300), 'z');
            if (i % 7 == 0) (void)d.pop(i % 50, "");
          }
          return 0;
        },
        l, d, started);
    REQUIRE(started.wait(30s));
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % 20));
    child.kill();
    CHECK(join(child) == -SIGKILL);
    const auto items = l.copy();  // must decode, in order, with no gap
    for (std::size_t i = 0; i < items.size(); ++i)
      if (items[i] != static_cast<std::int64_t>(i)) FAIL("list corrupt at " << i);
    CHECK(d.size() <= 50);
    for (const auto& [k, v] : d.items()) {
      CHECK(k >= 0);
      CHECK(k < 50);
      CHECK(v == std::string(v.size(), 'z'));
    }
  }
}
