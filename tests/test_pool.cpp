// Pool and ThreadPool: every member of API.md §9, Python's semantics, and
// what Python cannot do: a worker that dies fails exactly its task.

#include <multiprocessing/pool.hpp>
#include <multiprocessing/process.hpp>
#include <multiprocessing/sharedctypes.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

// Task functions: exported, so that function pointers can be sent.
int square(int x) { return x * x; }
long long square_ll(long long x) { return x * x; }
int add(int a, int b) { return a + b; }
int my_pid() { return static_cast<int>(::getpid()); }
int pid_after(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}
void nothing(int) {}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int report_pid_then_sleep(mp::Value<int> pid, int ms) {
  pid.value() = static_cast<int>(::getpid());
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
std::string greet(std::string name) { return "hello " + name; }
int throw_runtime(int x) { throw std::runtime_error("bad " + std::to_string(x)); }
int throw_value_error(int) { throw mp::ValueError("not a value"); }
int throw_out_of_range(int) { throw std::out_of_range("too far"); }
struct CustomError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int throw_custom(int) { throw CustomError("custom trouble"); }
int fail_on_odd(int x) {
  if (x % 2) throw std::invalid_argument("odd " + std::to_string(x));
  return x;
}
int segfault_on(int x) {
  if (x == 3) ::raise(SIGSEGV);
  return x * 10;
}
int exit_on(int x) {
  if (x == 3) ::_exit(7);
  return x * 10;
}
int kill_self_on(int x) {
  if (x == 3) ::kill(::getpid(), SIGKILL);
  return x * 10;
}

int g_init_value = 0;
void set_init_value(int v) { g_init_value = v; }
int read_init_value() { return g_init_value; }
void failing_init() { throw std::runtime_error("initializer fails"); }

TEST_CASE("Pool map squares (seed tutorial)") {
  mp::Pool pool(2);
  std::vector<int> xs(10);
  std::iota(xs.begin(), xs.end(), 0);
  auto r = pool.map(square, xs);
  REQUIRE(r == std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49, 64, 81});
}

TEST_CASE("Pool apply and apply_async with several arguments and lambdas") {
  mp::Pool pool(2);
  REQUIRE(pool.apply(add, 2, 3) == 5);
  REQUIRE(pool.apply(greet, std::string("pool")) == "hello pool");
  int k = 7;
  auto r = pool.apply_async([k](int x) { return x * k; }, 6);
  REQUIRE(r.get() == 42);
  REQUIRE(r.ready());
  REQUIRE(r.successful());
  auto v = pool.apply_async(nothing, 1);
  v.get();  // R = void
  REQUIRE(v.successful());
}

TEST_CASE("apply_async: 3 workers, 4 tasks of 0.3 s take about 0.6 s (seed tutorial)") {
  mp::Pool pool(3);
  pool.map(pid_after, std::vector<int>{1, 1, 1}, 1);  // workers up
  auto t0 = clk::now();
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(pool.apply_async(sleep_ms, 300));
  for (auto& r : rs) REQUIRE(r.get() == 300);
  double dt = std::chrono::duration<double>(clk::now() - t0).count();
  REQUIRE(dt >= 0.55);
  REQUIRE(dt < 1.15);  // not 1.2 s: the three workers share the load
}

TEST_CASE("map_async, starmap, starmap_async, chunksize, empty input") {
  mp::Pool pool(2);
  std::vector<int> xs(100);
  std::iota(xs.begin(), xs.end(), 0);
  auto a = pool.map_async(square, xs, 7);
  auto r = a.get();
  REQUIRE(r.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(r[i] == i * i);
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  REQUIRE(pool.starmap(add, pairs) == std::vector<int>{3, 7, 11});
  REQUIRE(pool.starmap_async(add, pairs, 1).get() == std::vector<int>{3, 7, 11});
  REQUIRE(pool.map(square, std::vector<int>{}).empty());
  std::list<long long> l{1, 2, 3};
  REQUIRE(pool.map(square_ll, l) == std::vector<long long>{1, 4, 9});
  pool.map(nothing, xs);  // void map
  auto v = pool.map_async(nothing, xs, 3);
  v.get();
  REQUIRE(v.successful());
  std::vector<std::string> names{"a", "b"};
  REQUIRE(pool.map(greet, names) == std::vector<std::string>{"hello a", "hello b"});
}

TEST_CASE("map with a function that reports failures (URL-list style)") {
  mp::Pool pool(2);
  auto check = [](std::string url) -> std::pair<std::string, std::string> {
    if (url.find("bad") != std::string::npos) return {url, "error: unreachable"};
    return {url, "ok"};
  };
  std::vector<std::string> urls{"http://a", "http://bad", "http://c"};
  auto r = pool.map(check, urls);
  REQUIRE(r.size() == 3);
  REQUIRE(r[0].second == "ok");
  REQUIRE(r[1].second == "error: unreachable");
  REQUIRE(r[2].second == "ok");
}

TEST_CASE("imap and imap_unordered, next with a timeout") {
  mp::Pool pool(2);
  std::vector<int> xs(20);
  std::iota(xs.begin(), xs.end(), 0);
  std::vector<int> got;
  for (int v : pool.imap(square, xs)) got.push_back(v);
  REQUIRE(got.size() == 20);
  for (int i = 0; i < 20; ++i) REQUIRE(got[i] == i * i);
  auto it = pool.imap(square, xs, 3);
  for (int i = 0; i < 20; ++i) REQUIRE(it.next(5s) == i * i);
  REQUIRE(!it.next());
  std::multiset<int> un;
  for (int v : pool.imap_unordered(square, xs, 4)) un.insert(v);
  REQUIRE(un.size() == 20);
  REQUIRE(*un.rbegin() == 361);
  auto slow = pool.imap_unordered(sleep_ms, std::vector<int>{500});
  REQUIRE_THROWS_AS(slow.next(50ms), mp::TimeoutError);
  REQUIRE(slow.next(5s) == 500);
  REQUIRE_THROWS_AS(pool.imap(square, xs, 0), mp::ValueError);
  // A failing item raises where it is, and iteration goes on.
  auto f = pool.imap(fail_on_odd, std::vector<int>{0, 1, 2});
  REQUIRE(f.next() == 0);
  REQUIRE_THROWS_AS(f.next(), std::invalid_argument);
  REQUIRE(f.next() == 2);
  REQUIRE(!f.next());
}

TEST_CASE("exceptions come back as their own type, else RemoteError") {
  mp::Pool pool(2);
  REQUIRE_THROWS_AS(pool.apply(throw_runtime, 1), std::runtime_error);
  try {
    pool.apply(throw_runtime, 5);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    REQUIRE(std::string(e.what()) == "bad 5");
  }
  REQUIRE_THROWS_AS(pool.apply(throw_value_error, 1), mp::ValueError);
  REQUIRE_THROWS_AS(pool.apply(throw_out_of_range, 1), std::out_of_range);
  try {
    pool.apply(throw_custom, 1);
    FAIL("no exception");
  } catch (const mp::RemoteError& e) {
    REQUIRE(e.type_name() == "CustomError");
    REQUIRE(std::string(e.what()).find("custom trouble") != std::string::npos);
  }
  auto r = pool.map_async(fail_on_odd, std::vector<int>{0, 2, 3, 4}, 1);
  r.wait();
  REQUIRE(!r.successful());
  REQUIRE_THROWS_AS(r.get(), std::invalid_argument);
  REQUIRE_THROWS_AS(pool.map(throw_runtime, std::vector<int>{1, 2}), std::runtime_error);
  // The pool still works after failures.
  REQUIRE(pool.apply(square, 9) == 81);
}

TEST_CASE("AsyncResult: get with timeout, wait, ready, successful before ready") {
  mp::Pool pool(1);
  auto r = pool.apply_async(sleep_ms, 400);
  REQUIRE(!r.ready());
  REQUIRE_THROWS_AS(r.successful(), mp::ValueError);
  REQUIRE_THROWS_AS(r.get(20ms), mp::TimeoutError);
  REQUIRE(!r.wait(10ms));
  r.wait();
  REQUIRE(r.ready());
  REQUIRE(r.get(1ms) == 400);
  auto copy = r;  // handles share one state
  REQUIRE(copy.get() == 400);
}

TEST_CASE("callbacks and error callbacks run in the parent before get returns") {
  mp::Pool pool(2);
  const int parent = ::getpid();
  std::mutex m;
  std::vector<int> values;
  std::vector<std::string> errors;
  int callback_pid = 0;
  auto r = pool.apply_async(square, 6, mp::callback([&](int v) {
                              std::lock_guard g(m);
                              values.push_back(v);
                              callback_pid = ::getpid();
                            }));
  REQUIRE(r.get() == 36);
  {
    std::lock_guard g(m);
    REQUIRE(values == std::vector<int>{36});
    REQUIRE(callback_pid == parent);
  }
  auto e = pool.apply_async(throw_runtime, 2, mp::callback([&](int) { values.push_back(-1); }),
                            mp::error_callback([&](const std::exception& ex) {
                              std::lock_guard g(m);
                              errors.push_back(ex.what());
                            }));
  REQUIRE_THROWS_AS(e.get(), std::runtime_error);
  {
    std::lock_guard g(m);
    REQUIRE(errors == std::vector<std::string>{"bad 2"});
    REQUIRE(values.size() == 1);
  }
  std::vector<int> whole;
  auto ma = pool.map_async(square, std::vector<int>{1, 2, 3},
                           mp::callback([&](const std::vector<int>& v) { whole = v; }));
  ma.wait();
  REQUIRE(whole == std::vector<int>{1, 4, 9});
  std::exception_ptr seen;
  auto mb = pool.map_async(throw_runtime, std::vector<int>{1}, 1,
                           mp::error_callback([&](std::exception_ptr p) { seen = p; }));
  mb.wait();
  REQUIRE(seen != nullptr);
}

TEST_CASE("initializer with arguments runs in each worker") {
  mp::Pool pool(2, set_init_value, 42);
  auto r = pool.map(
      [](int) { return read_init_value(); }, std::vector<int>{0, 1, 2, 3}, 1);
  REQUIRE(r == std::vector<int>{42, 42, 42, 42});
  REQUIRE(g_init_value == 0);  // not in the parent
}

TEST_CASE("maxtasksperchild: workers are replaced after N tasks") {
  mp::Pool pool(mp::PoolOptions{2, 1});
  std::set<int> pids;
  for (int i = 0; i < 6; ++i) pids.insert(pool.apply(my_pid));
  REQUIRE(pids.size() == 6);
  auto r = pool.map(square, std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}, 1);
  REQUIRE(r[7] == 64);
  REQUIRE_THROWS_AS(mp::Pool(mp::PoolOptions{2, 0}), mp::ValueError);
  REQUIRE_THROWS_AS(mp::Pool(0), mp::ValueError);
}

TEST_CASE("close, join, terminate and the closed-pool errors") {
  mp::Pool pool(2);
  auto r = pool.apply_async(sleep_ms, 100);
  REQUIRE_THROWS_AS(pool.join(), mp::ValueError);  // join before close
  pool.close();
  REQUIRE_THROWS_AS(pool.apply_async(square, 1), mp::ValueError);
  REQUIRE_THROWS_AS(pool.apply(square, 1), mp::ValueError);
  REQUIRE_THROWS_AS(pool.map(square, std::vector<int>{1}), mp::ValueError);
  REQUIRE_THROWS_AS(pool.imap(square, std::vector<int>{1}), mp::ValueError);
  pool.join();
  REQUIRE(r.get() == 100);  // close lets queued work finish

  mp::Pool p2(2);
  auto pids = p2.map(pid_after, std::vector<int>{50, 50}, 1);
  auto slow = p2.apply_async(sleep_ms, 5000);
  auto t0 = clk::now();
  p2.terminate();
  REQUIRE(clk::now() - t0 < 3s);
  REQUIRE_THROWS_AS(slow.get(1s), mp::ProcessError);
  for (int pid : pids) REQUIRE(test_util::process_gone(pid));
  p2.join();
  REQUIRE_THROWS_AS(p2.apply(square, 1), mp::ValueError);
}

TEST_CASE("destroying a pool leaves no worker behind") {
  std::vector<int> pids;
  {
    mp::Pool pool(3);
    std::set<int> s;
    for (int tries = 0; tries < 20 && s.size() < 3; ++tries)
      for (int p : pool.map(pid_after, std::vector<int>{30, 30, 30}, 1)) s.insert(p);
    pids.assign(s.begin(), s.end());
    (void)pool.apply_async(sleep_ms, 3000);  // still running at destruction
  }
  REQUIRE(!pids.empty());
  for (int pid : pids) REQUIRE(test_util::process_gone(pid));
  REQUIRE(test_util::zombie_children() == 0);
  REQUIRE(mp::active_children().empty());
}

TEST_CASE("a worker that segfaults fails exactly its task; the others complete") {
  mp::Pool pool(2);
  std::vector<int> xs{0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<mp::AsyncResult<int>> rs;
  auto t0 = clk::now();
  for (int x : xs) rs.push_back(pool.apply_async(segfault_on, x));
  for (int x : xs) {
    if (x == 3) {
      try {
        rs[x].get(10s);
        FAIL("no WorkerLostError");
      } catch (const mp::WorkerLostError& e) {
        std::string what = e.what();
        REQUIRE(what.find("SIGSEGV") != std::string::npos);
        REQUIRE(what.find("signal 11") != std::string::npos);
      }
    } else {
      REQUIRE(rs[x].get(10s) == x * 10);
    }
  }
  REQUIRE(clk::now() - t0 < 5s);
  REQUIRE(pool.apply(square, 5) == 25);  // a new worker took its place
}

TEST_CASE("a worker that calls _exit or is SIGKILLed fails its chunk within a second") {
  mp::Pool pool(2);
  auto t0 = clk::now();
  auto r = pool.map_async(exit_on, std::vector<int>{0, 1, 2, 3, 4, 5}, 1);
  REQUIRE(r.wait(10s));
  try {
    r.get();
    FAIL("no WorkerLostError");
  } catch (const mp::WorkerLostError& e) {
    REQUIRE(std::string(e.what()).find("exited with code 7") != std::string::npos);
  }
  REQUIRE(clk::now() - t0 < 2s);
  std::vector<mp::AsyncResult<int>> rs;
  for (int x = 0; x < 6; ++x) rs.push_back(pool.apply_async(kill_self_on, x));
  for (int x = 0; x < 6; ++x) {
    if (x == 3)
      REQUIRE_THROWS_AS(rs[x].get(10s), mp::WorkerLostError);
    else
      REQUIRE(rs[x].get(10s) == x * 10);
  }
  // A worker killed from outside while it runs a task: the task says which
  // worker it is in.
  mp::Value<int> running_in(0);
  auto victim = pool.apply_async(report_pid_then_sleep, running_in, 5000);
  REQUIRE(test_util::wait_until([&] { return running_in.value() != 0; }, 10s));
  const int pid = running_in.value();
  auto t1 = clk::now();
  ::kill(pid, SIGKILL);
  REQUIRE_THROWS_AS(victim.get(5s), mp::WorkerLostError);
  REQUIRE(clk::now() - t1 < 1s);
}

TEST_CASE("a pool whose workers keep dying stops with an error") {
  mp::Pool pool(2, failing_init);
  auto r = pool.apply_async(square, 3);
  try {
    r.get(30s);
    FAIL("no error");
  } catch (const mp::WorkerLostError& e) {
    REQUIRE(std::string(e.what()).find("keep dying") != std::string::npos);
  }
  REQUIRE_THROWS_AS(pool.apply_async(square, 1), mp::WorkerLostError);
}

TEST_CASE("Ctrl-C during map: the parent ends, no worker is orphaned") {
  // The helper prints its workers' pids, then maps slowly; we send SIGINT.
  auto res = test_util::run_program(test_util::helper("mp_pool_sigint"), {}, 20s);
  std::vector<int> pids;
  std::size_t pos = 0;
  while ((pos = res.out.find("worker ", pos)) != std::string::npos) {
    pids.push_back(std::stoi(res.out.substr(pos + 7)));
    pos += 7;
  }
  REQUIRE(res.out.find("interrupting") != std::string::npos);
  REQUIRE(res.exit_code == -SIGINT);
  REQUIRE(pids.size() == 2);
  for (int pid : pids)
    REQUIRE(test_util::wait_until([&] { return test_util::process_gone(pid); }, 5s));
}

TEST_CASE("ThreadPool: the same interface on threads, any callable") {
  mp::ThreadPool pool(3);
  auto owned = std::make_unique<int>(5);
  int* p = owned.get();
  REQUIRE(pool.apply([p](int x) { return *p + x; }, 1) == 6);
  std::vector<int> xs(50);
  std::iota(xs.begin(), xs.end(), 0);
  auto r = pool.map([](int x) { return x * 2; }, xs);
  REQUIRE(r.size() == 50);
  REQUIRE(r[49] == 98);
  REQUIRE(pool.starmap(add, std::vector<std::pair<int, int>>{{1, 1}}) == std::vector<int>{2});
  std::vector<int> got;
  for (int v : pool.imap(square, xs, 4)) got.push_back(v);
  REQUIRE(got[7] == 49);
  REQUIRE_THROWS_AS(pool.apply(throw_custom, 1), CustomError);  // the very exception
  try {
    pool.apply(throw_runtime, 3);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    REQUIRE(std::string(e.what()) == "bad 3");
  }
  std::atomic<int> cb{0};
  pool.apply_async(square, 2, mp::callback([&](int v) { cb = v; })).get();
  REQUIRE(cb == 4);
  auto slow = pool.apply_async(sleep_ms, 200);
  REQUIRE_THROWS_AS(slow.get(10ms), mp::TimeoutError);
  pool.close();
  REQUIRE_THROWS_AS(pool.apply(square, 1), mp::ValueError);
  pool.join();
  REQUIRE(slow.get() == 200);
  thread_local int tl = 0;
  mp::ThreadPool init_pool(2, [](int v) { tl = v; }, 9);
  REQUIRE(init_pool.apply([] { return tl; }) == 9);
}
