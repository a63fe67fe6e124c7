// ProcessPoolExecutor, ThreadPoolExecutor, Future, as_completed, wait
// (API.md §10): Python's concurrent.futures semantics, including a broken
// pool when a worker dies.

#include <multiprocessing/futures.hpp>
#include <multiprocessing/process.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <optional>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

int f_square(int x) { return x * x; }
int f_sleep(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int f_pid() { return static_cast<int>(::getpid()); }
void f_void(int) {}
int f_throw(int x) { throw std::logic_error("logic " + std::to_string(x)); }
int f_die(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::raise(SIGKILL);
  return 0;
}

TEST_CASE("ProcessPoolExecutor submit, result, exception, done") {
  mp::ProcessPoolExecutor ex(2);
  auto f = ex.submit(f_square, 7);
  REQUIRE(f.result() == 49);
  REQUIRE(f.done());
  REQUIRE(!f.running());
  REQUIRE(!f.cancelled());
  REQUIRE(f.exception() == nullptr);
  auto g = ex.submit(f_throw, 3);
  REQUIRE_THROWS_AS(g.result(), std::logic_error);
  REQUIRE(g.exception() != nullptr);
  try {
    g.result();
  } catch (const std::logic_error& e) {
    REQUIRE(std::string(e.what()) == "logic 3");
  }
  auto v = ex.submit(f_void, 1);
  v.result();
  auto lam = ex.submit([](int a, int b) { return a - b; }, 10, 4);
  REQUIRE(lam.result(5s) == 6);
  auto slow = ex.submit(f_sleep, 300);
  REQUIRE_THROWS_AS(slow.result(10ms), mp::TimeoutError);
  REQUIRE(slow.result() == 300);
}

TEST_CASE("executor map keeps input order; chunksize") {
  mp::ProcessPoolExecutor ex(2);
  std::vector<int> xs{5, 1, 4, 2, 3};
  REQUIRE(ex.map(f_square, xs) == std::vector<int>{25, 1, 16, 4, 9});
  REQUIRE(ex.map(f_square, xs, 2) == std::vector<int>{25, 1, 16, 4, 9});
  REQUIRE(ex.map(f_square, std::vector<int>{}).empty());
  REQUIRE_THROWS_AS(ex.map(f_throw, xs), std::logic_error);
  mp::ThreadPoolExecutor tex(3);
  REQUIRE(tex.map([](int x) { return x + 1; }, xs) == std::vector<int>{6, 2, 5, 3, 4});
}

TEST_CASE("cancel, running, add_done_callback") {
  mp::ProcessPoolExecutor ex(1);
  auto busy = ex.submit(f_sleep, 300);
  std::vector<mp::Future<int>> queued;
  for (int i = 0; i < 10; ++i) queued.push_back(ex.submit(f_square, i));
  REQUIRE(test_util::wait_until([&] { return busy.running(); }, 5s));
  REQUIRE(!busy.cancel());
  auto& last = queued.back();
  REQUIRE(last.cancel());
  REQUIRE(last.cancelled());
  REQUIRE(last.done());
  REQUIRE_THROWS_AS(last.result(), mp::CancelledError);
  REQUIRE_THROWS_AS(last.exception(), mp::CancelledError);
  std::mutex m;
  std::vector<int> seen;
  const int parent = ::getpid();
  int cb_pid = 0;
  queued[0].add_done_callback([&](mp::Future<int>& f) {
    std::lock_guard g(m);
    seen.push_back(f.result());
    cb_pid = ::getpid();
  });
  REQUIRE(queued[0].result() == 0);
  REQUIRE(test_util::wait_until([&] { std::lock_guard g(m); return !seen.empty(); }, 5s));
  // On a future that is done already: runs at once, here.
  queued[1].result();
  bool now = false;
  queued[1].add_done_callback([&](mp::Future<int>&) { now = true; });
  REQUIRE(now);
  std::lock_guard g(m);
  REQUIRE(seen == std::vector<int>{0});
  REQUIRE(cb_pid == parent);
}

TEST_CASE("as_completed yields in completion order, with a timeout") {
  mp::ThreadPoolExecutor ex(3);
  std::vector<mp::Future<int>> fs{ex.submit(f_sleep, 300), ex.submit(f_sleep, 10),
                                  ex.submit(f_sleep, 150)};
  std::vector<int> order;
  for (auto& f : mp::as_completed(fs)) order.push_back(f.result());
  REQUIRE(order == std::vector<int>{10, 150, 300});
  std::vector<mp::Future<int>> slow{ex.submit(f_sleep, 500)};
  auto ac = mp::as_completed(slow, 50ms);
  REQUIRE_THROWS_AS(ac.next(), mp::TimeoutError);
  mp::ProcessPoolExecutor pex(2);
  std::vector<mp::Future<int>> pfs;
  for (int i = 0; i < 6; ++i) pfs.push_back(pex.submit(f_square, i));
  std::multiset<int> got;
  for (auto& f : mp::as_completed(pfs, 10s)) got.insert(f.result());
  REQUIRE(got == std::multiset<int>{0, 1, 4, 9, 16, 25});
}

TEST_CASE("wait: FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, timeout") {
  mp::ProcessPoolExecutor ex(2);
  std::vector<mp::Future<int>> fs{ex.submit(f_sleep, 20), ex.submit(f_sleep, 600)};
  auto [done, not_done] = mp::wait(fs, mp::FIRST_COMPLETED);
  REQUIRE(done.size() == 1);
  REQUIRE(not_done.size() == 1);
  REQUIRE(done[0].result() == 20);
  auto t = mp::wait(fs, 10ms);
  REQUIRE(t.not_done.size() == 1);
  std::optional<std::chrono::milliseconds> brief = 10ms;
  REQUIRE(mp::wait(fs, brief, mp::ALL_COMPLETED).not_done.size() == 1);
  auto all = mp::wait(fs, std::nullopt, mp::ALL_COMPLETED);  // timeout=None
  REQUIRE(all.done.size() == 2);
  REQUIRE(all.not_done.empty());
  std::vector<mp::Future<int>> gs{ex.submit(f_throw, 1), ex.submit(f_sleep, 600)};
  auto t0 = clk::now();
  auto fe = mp::wait(gs, 10s, mp::FIRST_EXCEPTION);
  REQUIRE(clk::now() - t0 < 1s);
  REQUIRE(fe.done.size() == 1);
  REQUIRE(fe.done[0].exception() != nullptr);
}

TEST_CASE("a dead worker breaks the ProcessPoolExecutor") {
  mp::ProcessPoolExecutor ex(2);
  auto ok = ex.submit(f_square, 3);
  REQUIRE(ok.result() == 9);
  auto dies = ex.submit(f_die, 50);
  std::vector<mp::Future<int>> pending;
  for (int i = 0; i < 8; ++i) pending.push_back(ex.submit(f_sleep, 200));
  REQUIRE_THROWS_AS(dies.result(10s), mp::BrokenProcessPool);
  int broken = 0;
  for (auto& f : pending) {
    try {
      f.result(10s);
    } catch (const mp::BrokenProcessPool&) {
      ++broken;
    }
  }
  REQUIRE(broken >= 1);
  REQUIRE(ok.result() == 9);  // finished before: untouched
  REQUIRE_THROWS_AS(ex.submit(f_square, 1), mp::BrokenProcessPool);
}

TEST_CASE("shutdown: wait, cancel_futures, submit after shutdown") {
  mp::ProcessPoolExecutor ex(1);
  auto first = ex.submit(f_sleep, 200);
  std::vector<mp::Future<int>> rest;
  for (int i = 0; i < 5; ++i) rest.push_back(ex.submit(f_square, i));
  REQUIRE(test_util::wait_until([&] { return first.running(); }, 5s));
  ex.shutdown(true, true);
  REQUIRE(first.result() == 200);
  int cancelled = 0;
  for (auto& f : rest) cancelled += f.cancelled() ? 1 : 0;
  REQUIRE(cancelled >= 3);  // at most one was already handed to the worker
  REQUIRE_THROWS_AS(ex.submit(f_square, 1), mp::ProcessError);
  mp::ThreadPoolExecutor tex(2);
  auto tf = tex.submit(f_sleep, 100);
  tex.shutdown(false);
  REQUIRE_THROWS_AS(tex.submit(f_square, 1), mp::ProcessError);
  REQUIRE(tf.result() == 100);
}

TEST_CASE("max_tasks_per_child: distinct worker pids") {
  mp::ProcessPoolExecutor ex(mp::ExecutorOptions{1, 2});
  std::set<int> pids;
  for (int i = 0; i < 6; ++i) pids.insert(ex.submit(f_pid).result());
  REQUIRE(pids.size() == 3);
  REQUIRE_THROWS_AS(mp::ProcessPoolExecutor(0), mp::ValueError);
  REQUIRE_THROWS_AS(mp::ProcessPoolExecutor(mp::ExecutorOptions{1, 0}), mp::ValueError);
}

TEST_CASE("terminate_workers and kill_workers leave nothing behind") {
  std::vector<int> pids;
  {
    mp::ProcessPoolExecutor ex(2);
    std::vector<mp::Future<int>> fs;
    for (int i = 0; i < 2; ++i) fs.push_back(ex.submit(f_sleep, 3000));
    std::vector<mp::Future<int>> queued;
    for (int i = 0; i < 6; ++i) queued.push_back(ex.submit(f_sleep, 3000));
    for (auto& c : mp::active_children()) pids.push_back(c.pid());
    REQUIRE(test_util::wait_until([&] { return fs[0].running() && fs[1].running(); }, 5s));
    auto t0 = clk::now();
    ex.terminate_workers();
    for (auto& f : fs) REQUIRE_THROWS_AS(f.result(5s), mp::BrokenProcessPool);
    // Python marks a few queued calls running ahead of time (EXTRA_QUEUED_CALLS);
    // those break, the others are cancelled.
    int cancelled = 0;
    for (auto& q : queued) {
      // The result thread settles them right after the running ones.
      REQUIRE(test_util::wait_until([&] { return q.done(); }, 1s));
      if (q.cancelled())
        ++cancelled;
      else
        REQUIRE_THROWS_AS(q.result(), mp::BrokenProcessPool);
    }
    REQUIRE(cancelled >= 2);
    REQUIRE(clk::now() - t0 < 2s);
  }
  for (int pid : pids) REQUIRE(test_util::process_gone(pid));
  {
    mp::ProcessPoolExecutor ex(1);
    auto f = ex.submit(f_sleep, 3000);
    REQUIRE(test_util::wait_until([&] { return f.running(); }, 5s));
    ex.kill_workers();
    REQUIRE_THROWS_AS(f.result(5s), mp::BrokenProcessPool);
  }
  REQUIRE(test_util::zombie_children() == 0);
  REQUIRE(mp::active_children().empty());
}

TEST_CASE("ThreadPoolExecutor: any callable, exceptions as thrown") {
  mp::ThreadPoolExecutor ex(2);
  auto owned = std::make_shared<std::string>("shared");
  auto f = ex.submit([owned](int n) { return owned->size() + static_cast<std::size_t>(n); }, 1);
  REQUIRE(f.result() == 7);
  struct Mine : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  auto g = ex.submit([]() -> int { throw Mine("mine"); });
  REQUIRE_THROWS_AS(g.result(), Mine);
  try {
    ex.submit(f_throw, 4).result();
    FAIL("no exception");
  } catch (const std::logic_error& e) {
    REQUIRE(std::string(e.what()) == "logic 4");
  }
  std::atomic<int> calls{0};
  std::vector<mp::Future<void>> vs;
  for (int i = 0; i < 20; ++i) vs.push_back(ex.submit([&calls] { ++calls; }));
  auto all = mp::wait(vs);
  REQUIRE(all.done.size() == 20);
  REQUIRE(calls == 20);
}

TEST_CASE("destroying an executor waits for its calls (shutdown(true))") {
  mp::Future<int> f;
  {
    mp::ProcessPoolExecutor ex(1);
    f = ex.submit(f_sleep, 200);
  }
  REQUIRE(f.done());
  REQUIRE(f.result() == 200);
  REQUIRE(mp::active_children().empty());
}
