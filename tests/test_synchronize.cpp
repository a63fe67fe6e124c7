// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier:
// every member and error, across threads and across forked processes,
// including holders that die.
#include <multiprocessing/reduction.hpp>
#include <multiprocessing/synchronize.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <set>
#include <span>
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

// ---- test support: children report through exit codes and shared memory ----

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
/// code, 128 + signal if it was killed by one, or -1 if it had to be killed.
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

/// A T in anonymous shared memory, visible to children forked afterwards.
template <class T>
class shared {
 public:
  shared() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    p_ = ::new (p) T{};
  }
  ~shared() { ::munmap(p_, sizeof(T)); }
  shared(const shared&) = delete;
  shared& operator=(const shared&) = delete;
  T& operator*() const { return *p_; }
  T* operator->() const { return p_; }

 private:
  T* p_;
};

/// Polls until pred() holds, at most `limit`; returns whether it held.
template <class P>
bool eventually(P pred, clk::duration limit = 10s) {
  const auto end = clk::now() + limit;
  while (!pred()) {
    if (clk::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

/// A child that takes `acquire`, raises the flag and then sleeps until killed.
template <class A>
pid_t child_holding(A acquire, std::atomic<int>& holding) {
  return fork_child([&] {
    acquire();
    holding.store(1);
    for (;;) ::pause();
    return 0;
  });
}

}  // namespace

// ------------------------------------------------------------------ Lock

TEST_CASE("Lock: acquire, release, locked, try, errors") {
  mp::Lock lock;
  CHECK_FALSE(lock.locked());
  CHECK(lock.acquire());
  CHECK(lock.locked());
  CHECK_FALSE(lock.acquire(false));
  CHECK_FALSE(lock.try_lock());
  lock.release();
  CHECK_FALSE(lock.locked());
  CHECK_THROWS_AS(lock.release(), mp::ValueError);
  CHECK_THROWS_AS(lock.unlock(), mp::ValueError);
  CHECK(lock.acquire(false));
  CHECK(lock.locked());
  lock.release();
  CHECK(lock.try_lock());
  lock.unlock();
  CHECK(lock.acquire(0ms));  // zero timeout: one attempt
  CHECK_FALSE(lock.acquire(0ms));
  CHECK_FALSE(lock.acquire(-5ms));
  lock.release();
}

TEST_CASE("Lock: copies share one object and == is identity") {
  mp::Lock a;
  mp::Lock b = a;
  mp::Lock c;
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK(a != c);
  a.acquire();
  CHECK(b.locked());
  CHECK_FALSE(c.locked());
  CHECK_FALSE(b.acquire(false));
  b.release();
  CHECK_FALSE(a.locked());
  c = a;
  CHECK(c == a);
}

TEST_CASE("Lock: another thread may release it (as in Python)") {
  mp::Lock lock;
  lock.acquire();
  bool threw = false;
  std::thread t([&] {
    try {
      lock.release();
    } catch (...) {
      threw = true;
    }
  });
  t.join();
  CHECK_FALSE(threw);
  CHECK_FALSE(lock.locked());
}

TEST_CASE("Lock: std::lock_guard, unique_lock, scoped_lock, try_lock_for/until") {
  static_assert(std::is_copy_constructible_v<mp::Lock>);
  mp::Lock lock;
  {
    std::lock_guard g(lock);
    CHECK(lock.locked());
  }
  CHECK_FALSE(lock.locked());
  {
    std::unique_lock u(lock, std::defer_lock);
    CHECK(u.try_lock_for(10ms));
    CHECK(lock.locked());
    u.unlock();
    CHECK(u.try_lock_until(clk::now() + 10ms));
    u.unlock();
    CHECK(u.try_lock_until(std::chrono::system_clock::now() + 10ms));
  }
  CHECK_FALSE(lock.locked());
  mp::Lock other;
  mp::RLock rlock;
  {
    std::scoped_lock s(lock, other, rlock);
    CHECK(lock.locked());
    CHECK(other.locked());
    CHECK(rlock.locked());
  }
  CHECK_FALSE(lock.locked());
  CHECK_FALSE(other.locked());
  CHECK_FALSE(rlock.locked());
  lock.acquire();
  std::thread t([&] {
    std::unique_lock u(lock, std::defer_lock);
    const auto t0 = clk::now();
    const bool got = u.try_lock_for(50ms);
    CHECK_FALSE(got);
    CHECK(seconds_since(t0) >= 0.045);
    CHECK_FALSE(u.try_lock_until(std::chrono::system_clock::now() + 20ms));
  });
  t.join();
  lock.release();
}

TEST_CASE("Lock: acquire(timeout) on a held lock returns false after the timeout") {
  mp::Lock lock;
  lock.acquire();
  shared<std::atomic<int>> result;
  // A different process, so that no thread of ours is involved.
  const pid_t pid = fork_child([&] {
    const auto t0 = clk::now();
    const bool got = lock.acquire(100ms);
    const double dt = seconds_since(t0);
    if (got) return 1;
    if (dt < 0.090) return 2;
    if (dt >= 2.0) return 3;
    return 0;
  });
  CHECK(join(pid) == 0);
  const auto t0 = clk::now();
  std::thread t([&] { result->store(lock.acquire(100ms) ? 1 : 0); });
  t.join();
  CHECK(result->load() == 0);
  CHECK(seconds_since(t0) >= 0.090);
  CHECK(seconds_since(t0) < 2.0);
  lock.release();
}

TEST_CASE("Lock: a blocked acquirer wakes when the holder releases") {
  mp::Lock lock;
  lock.acquire();
  const pid_t pid = fork_child([&] {
    if (!lock.acquire(10s)) return 1;
    lock.release();
    return 0;
  });
  std::this_thread::sleep_for(100ms);  // let it sleep in the kernel
  lock.release();
  CHECK(join(pid) == 0);
}

TEST_CASE("Lock: 4 processes x 50k increments under the lock end exact") {
  mp::Lock lock;
  shared<std::int64_t> counter;  // deliberately not atomic
  constexpr int procs = 4, n = 50000;
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p)
    pids.push_back(fork_child([&] {
      for (int i = 0; i < n; ++i) {
        std::lock_guard g(lock);
        *counter = *counter + 1;
      }
      return 0;
    }));
  for (pid_t pid : pids) CHECK(join(pid, 60s) == 0);
  CHECK(*counter == std::int64_t{procs} * n);
  CHECK_FALSE(lock.locked());
}

TEST_CASE("Lock: 4 threads x 50k increments under the lock end exact") {
  mp::Lock lock;
  long counter = 0;  // TSan checks the lock orders these accesses
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) {
        lock.acquire();
        ++counter;
        lock.release();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(counter == 200000);
}

TEST_CASE("Lock: a child SIGKILLed while holding it does not block the others") {
  mp::Lock lock;
  shared<std::atomic<int>> holding;
  const pid_t pid = child_holding([&] { lock.acquire(); }, *holding);
  REQUIRE(eventually([&] { return holding->load() == 1; }));
  CHECK(lock.locked());
  ::kill(pid, SIGKILL);
  // Not reaped yet: the dead holder is a zombie, which kill(pid, 0) still accepts.
  std::this_thread::sleep_for(50ms);
  const pid_t other = fork_child([&] {
    const auto t0 = clk::now();
    if (!lock.acquire(10s)) return 1;
    if (seconds_since(t0) > 2.0) return 2;
    lock.release();
    return 0;
  });
  CHECK(join(other) == 0);
  const auto t0 = clk::now();
  CHECK(lock.acquire(10s));
  CHECK(seconds_since(t0) < 2.0);
  lock.release();
  CHECK(join(pid) == 128 + SIGKILL);
}

TEST_CASE("Lock: the parent takes over from a SIGKILLed, reaped child") {
  mp::Lock lock;
  shared<std::atomic<int>> holding;
  const pid_t pid = child_holding([&] { lock.acquire(); }, *holding);
  REQUIRE(eventually([&] { return holding->load() == 1; }));
  ::kill(pid, SIGKILL);
  CHECK(join(pid) == 128 + SIGKILL);
  const auto t0 = clk::now();
  CHECK(lock.acquire(10s));
  CHECK(seconds_since(t0) < 2.0);
  CHECK(lock.locked());
  lock.release();
}

TEST_CASE("Lock: a child that _exit()s holding it does not block the others") {
  mp::Lock lock;
  const pid_t pid = fork_child([&] {
    lock.acquire();
    return 7;  // leaves with the lock held
  });
  REQUIRE(eventually([&] { return lock.locked(); }));
  SECTION("while it is a zombie") {
    std::this_thread::sleep_for(50ms);
    const auto t0 = clk::now();
    CHECK(lock.acquire(10s));
    CHECK(seconds_since(t0) < 2.0);
    lock.release();
    CHECK(join(pid) == 7);
  }
  SECTION("after it is reaped") {
    CHECK(join(pid) == 7);
    const auto t0 = clk::now();
    CHECK(lock.acquire(10s));
    CHECK(seconds_since(t0) < 2.0);
    lock.release();
  }
}

TEST_CASE("Lock: a thread that exits holding it does not block the others") {
  mp::Lock lock;
  std::thread t([&] { lock.acquire(); });
  t.join();
  CHECK(lock.locked());
  const auto t0 = clk::now();
  CHECK(lock.acquire(10s));
  CHECK(seconds_since(t0) < 2.0);
  lock.release();
  // Blocking acquire too.
  std::thread t2([&] { lock.acquire(); });
  t2.join();
  lock.acquire();
  lock.release();
}

// ------------------------------------------------------------------ RLock

TEST_CASE("RLock: re-entrant acquire, depth, release errors") {
  mp::RLock r;
  CHECK_FALSE(r.locked());
  CHECK_THROWS_AS(r.release(), mp::ProcessError);
  CHECK(r.acquire());
  CHECK(r.acquire());
  CHECK(r.acquire(false));
  CHECK(r.acquire(10ms));
  CHECK(r.try_lock());
  CHECK(r.locked());
  for (int i = 0; i < 4; ++i) {
    r.release();
    CHECK(r.locked());
  }
  r.release();
  CHECK_FALSE(r.locked());
  CHECK_THROWS_AS(r.release(), mp::ProcessError);
  try {
    r.release();
  } catch (const mp::ProcessError& e) {
    CHECK(std::string(e.what()) == "cannot release un-acquired lock");
  }
}

TEST_CASE("RLock: other threads and processes cannot acquire or release it") {
  mp::RLock r;
  mp::RLock copy = r;
  CHECK(copy == r);
  CHECK_FALSE(mp::RLock() == r);
  r.acquire();
  r.acquire();
  bool release_threw = false, got = true;
  std::thread t([&] {
    got = r.acquire(false) || r.acquire(30ms);
    try {
      copy.release();
    } catch (const mp::ProcessError&) {
      release_threw = true;
    }
  });
  t.join();
  CHECK_FALSE(got);
  CHECK(release_threw);
  const pid_t pid = fork_child([&] {
    if (r.acquire(false)) return 1;  // the forked thread is not the owner
    try {
      r.release();
      return 2;
    } catch (const mp::ProcessError&) {
    }
    return 0;
  });
  CHECK(join(pid) == 0);
  r.release();
  r.release();
  const pid_t pid2 = fork_child([&] {
    if (!r.acquire(5s)) return 1;
    r.release();
    return 0;
  });
  CHECK(join(pid2) == 0);
}

TEST_CASE("RLock: a dead holder's lock is taken over at depth 1") {
  mp::RLock r;
  shared<std::atomic<int>> holding;
  const pid_t pid = child_holding(
      [&] {
        r.acquire();
        r.acquire();
        r.acquire();
      },
      *holding);
  REQUIRE(eventually([&] { return holding->load() == 1; }));
  ::kill(pid, SIGKILL);
  const auto t0 = clk::now();
  CHECK(r.acquire(10s));
  CHECK(seconds_since(t0) < 2.0);
  r.release();
  CHECK_FALSE(r.locked());
  CHECK(join(pid) == 128 + SIGKILL);
}

TEST_CASE("RLock: a thread that exits holding it does not block the others") {
  mp::RLock r;
  std::thread t([&] {
    r.acquire();
    r.acquire();
  });
  t.join();
  const auto t0 = clk::now();
  CHECK(r.acquire(10s));
  CHECK(seconds_since(t0) < 2.0);
  r.release();
  CHECK_FALSE(r.locked());
}

TEST_CASE("RLock: 3 processes x 30k nested increments end exact") {
  mp::RLock r;
  shared<std::int64_t> counter;
  std::vector<pid_t> pids;
  for (int p = 0; p < 3; ++p)
    pids.push_back(fork_child([&] {
      for (int i = 0; i < 30000; ++i) {
        std::lock_guard outer(r);
        std::lock_guard inner(r);
        *counter = *counter + 1;
      }
      return 0;
    }));
  for (pid_t pid : pids) CHECK(join(pid, 60s) == 0);
  CHECK(*counter == 90000);
}

// ------------------------------------------------------------------ Semaphore

TEST_CASE("Semaphore: counts, locked, errors, timeouts") {
  CHECK_THROWS_AS(mp::Semaphore(-1), mp::ValueError);
  CHECK_THROWS_AS(mp::BoundedSemaphore(-1), mp::ValueError);
  mp::Semaphore dflt;
  CHECK(dflt.get_value() == 1);
  mp::Semaphore s(2);
  CHECK(s.get_value() == 2);
  CHECK_FALSE(s.locked());
  CHECK(s.acquire());
  CHECK(s.acquire(false));
  CHECK(s.get_value() == 0);
  CHECK(s.locked());
  CHECK_FALSE(s.acquire(false));
  CHECK_FALSE(s.try_lock());
  const auto t0 = clk::now();
  CHECK_FALSE(s.acquire(100ms));
  CHECK(seconds_since(t0) >= 0.090);
  CHECK(seconds_since(t0) < 2.0);
  CHECK_FALSE(s.try_lock_for(10ms));
  CHECK_FALSE(s.try_lock_until(clk::now() + 10ms));
  s.release();
  s.release();
  s.release();  // an unbounded semaphore may exceed its initial value
  CHECK(s.get_value() == 3);
  {
    std::lock_guard g(s);
    CHECK(s.get_value() == 2);
  }
  CHECK(s.get_value() == 3);
  mp::Semaphore zero(0);
  CHECK(zero.locked());
  mp::Semaphore copy = s;
  CHECK(copy == s);
  CHECK_FALSE(copy == zero);
  copy.acquire();
  CHECK(s.get_value() == 2);
}

TEST_CASE("BoundedSemaphore: release above the initial value is a ValueError") {
  mp::BoundedSemaphore b(2);
  CHECK(b.get_value() == 2);
  CHECK_THROWS_AS(b.release(), mp::ValueError);
  CHECK(b.get_value() == 2);
  b.acquire();
  b.acquire();
  CHECK(b.locked());
  b.release();
  b.release();
  CHECK_THROWS_AS(b.release(), mp::ValueError);
  mp::Semaphore& base = b;  // a BoundedSemaphore is a Semaphore
  CHECK_THROWS_AS(base.release(), mp::ValueError);
  mp::BoundedSemaphore one;
  CHECK(one.get_value() == 1);
  std::thread t([&] { one.acquire(); });  // no owner: any thread may release
  t.join();
  one.release();
  CHECK(one.get_value() == 1);
}

TEST_CASE("Semaphore: producer and consumer in different processes") {
  mp::Semaphore items(0);
  mp::BoundedSemaphore slots(4);
  shared<std::array<std::atomic<int>, 4>> ring;
  shared<std::atomic<long>> sum;
  constexpr int n = 2000;
  const pid_t producer = fork_child([&] {
    for (int i = 1; i <= n; ++i) {
      if (!slots.acquire(10s)) return 1;
      (*ring)[i % 4].store(i);
      items.release();
    }
    return 0;
  });
  const pid_t consumer = fork_child([&] {
    long total = 0;
    for (int i = 1; i <= n; ++i) {
      if (!items.acquire(10s)) return 1;
      total += (*ring)[i % 4].load();
      slots.release();
    }
    sum->store(total);
    return 0;
  });
  CHECK(join(producer) == 0);
  CHECK(join(consumer) == 0);
  CHECK(sum->load() == long{n} * (n + 1) / 2);
  CHECK(items.get_value() == 0);
  CHECK(slots.get_value() == 4);
}

TEST_CASE("Semaphore: a release in the parent wakes a child blocked in acquire") {
  mp::Semaphore s(0);
  const pid_t pid = fork_child([&] { return s.acquire(10s) ? 0 : 1; });
  std::this_thread::sleep_for(100ms);
  s.release();
  CHECK(join(pid) == 0);
  CHECK(s.get_value() == 0);
}

TEST_CASE("Semaphore: threads hand out exactly the permits released") {
  mp::Semaphore s(0);
  std::atomic<int> got{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i)
        if (s.acquire(10s)) got.fetch_add(1);
    });
  for (int i = 0; i < 2000; ++i) s.release();
  for (auto& t : threads) t.join();
  CHECK(got.load() == 2000);
  CHECK(s.get_value() == 0);
}

// ------------------------------------------------------------------ Event

TEST_CASE("Event: set, clear, is_set, wait with timeout") {
  mp::Event e;
  CHECK_FALSE(e.is_set());
  auto t0 = clk::now();
  CHECK_FALSE(e.wait(100ms));
  CHECK(seconds_since(t0) >= 0.090);
  CHECK(seconds_since(t0) < 2.0);
  e.set();
  CHECK(e.is_set());
  e.set();
  CHECK(e.is_set());
  t0 = clk::now();
  CHECK(e.wait(10s));
  e.wait();
  CHECK(seconds_since(t0) < 1.0);
  mp::Event copy = e;
  CHECK(copy == e);
  CHECK_FALSE(mp::Event() == e);
  copy.clear();
  CHECK_FALSE(e.is_set());
  CHECK_FALSE(e.wait(0ms));
}

TEST_CASE("Event: set in a child wakes waiters in the parent and other children") {
  mp::Event e;
  mp::Event go;
  std::vector<pid_t> waiters;
  for (int i = 0; i < 3; ++i)
    waiters.push_back(fork_child([&] { return e.wait(10s) && e.is_set() ? 0 : 1; }));
  const pid_t setter = fork_child([&] {
    if (!go.wait(10s)) return 1;
    e.set();
    return 0;
  });
  std::thread parent_waiter([&] { CHECK(e.wait(10s)); });
  std::this_thread::sleep_for(100ms);
  go.set();
  parent_waiter.join();
  CHECK(join(setter) == 0);
  for (pid_t pid : waiters) CHECK(join(pid) == 0);
}

TEST_CASE("Event: a set() followed at once by clear() still releases the waiters") {
  mp::Event e;
  std::atomic<int> woke{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&] {
      if (e.wait(10s)) woke.fetch_add(1);
    });
  std::this_thread::sleep_for(100ms);
  e.set();
  e.clear();
  for (auto& t : threads) t.join();
  CHECK(woke.load() == 3);
  CHECK_FALSE(e.is_set());
}

// ------------------------------------------------------------------ Condition

TEST_CASE("Condition: lock forms, acquire/release, errors without the lock") {
  mp::Condition c;
  CHECK_THROWS_AS(c.wait(), mp::ProcessError);
  CHECK_THROWS_AS(c.wait(10ms), mp::ProcessError);
  CHECK_THROWS_AS(c.notify(), mp::ProcessError);
  CHECK_THROWS_AS(c.notify_all(), mp::ProcessError);
  CHECK_THROWS_AS(c.release(), mp::ProcessError);  // the default lock is an RLock
  CHECK(c.acquire());
  CHECK(c.acquire());  // ... so it is re-entrant
  c.notify();
  c.notify(3);
  c.notify_all();
  c.release();
  c.release();
  {
    std::unique_lock u(c);
    const auto t0 = clk::now();
    CHECK_FALSE(c.wait(100ms));
    CHECK(seconds_since(t0) >= 0.090);
    CHECK(seconds_since(t0) < 2.0);
    CHECK(u.owns_lock());
  }
  mp::Lock lock;
  mp::Condition cl(lock);
  CHECK_THROWS_AS(cl.wait(), mp::ProcessError);
  cl.acquire();
  CHECK(lock.locked());
  CHECK_FALSE(cl.acquire(false));  // a Lock is not re-entrant
  CHECK_FALSE(cl.wait(20ms));
  CHECK(lock.locked());
  cl.release();
  CHECK_FALSE(lock.locked());
  CHECK_THROWS_AS(cl.release(), mp::ValueError);
  CHECK(cl.try_lock_for(10ms));
  cl.unlock();
  mp::RLock rl;
  mp::Condition cr(rl);
  {
    std::lock_guard g(cr);
    CHECK(rl.locked());
  }
  CHECK_FALSE(rl.locked());
  mp::Condition copy = cr;
  CHECK(copy == cr);
  CHECK_FALSE(copy == cl);
}

TEST_CASE("Condition: wait releases a recursively held RLock fully and restores its depth") {
  mp::RLock rl;
  mp::Condition c(rl);
  shared<std::atomic<int>> stage;
  c.acquire();
  c.acquire();
  c.acquire();
  const pid_t pid = fork_child([&] {
    // Succeeds only if the parent's wait released all three levels.
    if (!c.acquire(10s)) return 1;
    stage->store(1);
    c.notify();
    c.release();
    return 0;
  });
  CHECK(c.wait_for([&] { return stage->load() == 1; }, 10s));
  CHECK(join(pid) == 0);
  c.release();
  c.release();
  CHECK(rl.locked());
  c.release();
  CHECK_FALSE(rl.locked());
  CHECK_THROWS_AS(c.release(), mp::ProcessError);
}

TEST_CASE("Condition: wait_for across processes, with and without timeout") {
  mp::Condition c;
  shared<std::atomic<int>> value;
  const pid_t pid = fork_child([&] {
    for (int i = 1; i <= 5; ++i) {
      std::this_thread::sleep_for(10ms);
      std::lock_guard g(c);
      value->store(i);
      c.notify_all();
    }
    return 0;
  });
  {
    std::lock_guard g(c);
    CHECK(c.wait_for([&] { return value->load() >= 5; }));
    CHECK(value->load() == 5);
    const auto t0 = clk::now();
    CHECK_FALSE(c.wait_for([&] { return value->load() > 5; }, 100ms));
    CHECK(seconds_since(t0) >= 0.090);
    CHECK(seconds_since(t0) < 2.0);
    CHECK(c.wait_for([] { return true; }, 0ms));
  }
  CHECK(join(pid) == 0);
}

TEST_CASE("Condition: notify(1) wakes exactly one waiting process, notify_all the rest") {
  for (bool use_lock : {false, true}) {
    mp::Condition c = use_lock ? mp::Condition(mp::Lock()) : mp::Condition();
    shared<std::atomic<int>> registered, woken;
    std::vector<pid_t> pids;
    for (int i = 0; i < 3; ++i)
      pids.push_back(fork_child([&] {
        std::unique_lock u(c);
        registered->fetch_add(1);
        const bool notified = c.wait(20s);
        woken->fetch_add(1);
        return notified ? 0 : 1;
      }));
    // Holding the lock with 3 registrations means all 3 are inside wait().
    REQUIRE(eventually([&] {
      std::lock_guard g(c);
      return registered->load() == 3;
    }));
    {
      std::lock_guard g(c);
      c.notify();
    }
    CHECK(eventually([&] { return woken->load() >= 1; }));
    std::this_thread::sleep_for(200ms);
    CHECK(woken->load() == 1);
    {
      std::lock_guard g(c);
      c.notify(0);  // wakes nobody
      c.notify_all();
    }
    for (pid_t pid : pids) CHECK(join(pid) == 0);
    CHECK(woken->load() == 3);
  }
}

TEST_CASE("Condition: notify(2) wakes two of three and not a waiter that came later") {
  mp::Condition c;
  shared<std::atomic<int>> registered, woken;
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i)
    pids.push_back(fork_child([&] {
      std::unique_lock u(c);
      registered->fetch_add(1);
      const bool notified = c.wait(20s);
      woken->fetch_add(1);
      return notified ? 0 : 1;
    }));
  REQUIRE(eventually([&] {
    std::lock_guard g(c);
    return registered->load() == 3;
  }));
  {
    std::lock_guard g(c);
    c.notify(2);
    // Waits that start now must not take those two notifications.
    CHECK_FALSE(c.wait(50ms));
  }
  CHECK(eventually([&] { return woken->load() == 2; }));
  std::this_thread::sleep_for(100ms);
  CHECK(woken->load() == 2);
  {
    std::lock_guard g(c);
    c.notify(5);  // more than are waiting
  }
  for (pid_t pid : pids) CHECK(join(pid) == 0);
  CHECK(woken->load() == 3);
}

TEST_CASE("Condition: threads ping-pong through a predicate") {
  mp::Condition c(mp::Lock{});
  int turn = 0;  // guarded by c's lock: TSan checks the lock orders it
  constexpr int rounds = 2000;
  std::thread other([&] {
    for (int i = 0; i < rounds; ++i) {
      std::unique_lock u(c);
      c.wait_for([&] { return turn == 1; });
      turn = 0;
      c.notify();
    }
  });
  for (int i = 0; i < rounds; ++i) {
    std::unique_lock u(c);
    CHECK(c.wait_for([&] { return turn == 0; }, 10s));
    turn = 1;
    c.notify();
  }
  other.join();
  CHECK(turn == 0);
}

// ------------------------------------------------------------------ Barrier

TEST_CASE("Barrier: 3 processes get the distinct indices 0, 1, 2, round after round") {
  mp::Barrier b(3);
  CHECK(b.parties() == 3);
  CHECK(b.n_waiting() == 0);
  CHECK_FALSE(b.broken());
  CHECK_THROWS_AS(mp::Barrier(0), mp::ValueError);
  constexpr int rounds = 50;
  shared<std::array<std::array<std::atomic<int>, 3>, rounds>> index;
  std::vector<pid_t> pids;
  for (int p = 0; p < 3; ++p)
    pids.push_back(fork_child([&, p] {
      for (int r = 0; r < rounds; ++r) {
        const int i = b.wait(20s);
        if (i < 0 || i > 2) return 1;
        (*index)[r][p].store(i);
      }
      return 0;
    }));
  for (pid_t pid : pids) CHECK(join(pid) == 0);
  for (int r = 0; r < rounds; ++r) {
    std::set<int> seen{(*index)[r][0].load(), (*index)[r][1].load(), (*index)[r][2].load()};
    CHECK(seen == std::set<int>{0, 1, 2});
  }
  CHECK_FALSE(b.broken());
  mp::Barrier single(1);
  CHECK(single.wait() == 0);
  CHECK(single.wait(0ms) == 0);
}

TEST_CASE("Barrier: a timeout breaks it for every waiter and reset() repairs it") {
  mp::Barrier b(3);
  const pid_t waiter = fork_child([&] {
    try {
      b.wait(20s);
      return 1;
    } catch (const mp::BrokenBarrierError&) {
      return 0;
    }
  });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  const auto t0 = clk::now();
  CHECK_THROWS_AS(b.wait(100ms), mp::BrokenBarrierError);
  CHECK(seconds_since(t0) >= 0.090);
  CHECK(seconds_since(t0) < 2.0);
  CHECK(join(waiter) == 0);
  CHECK(b.broken());
  CHECK(b.n_waiting() == 0);
  CHECK_THROWS_AS(b.wait(), mp::BrokenBarrierError);
  CHECK_THROWS_AS(b.wait(1s), mp::BrokenBarrierError);
  b.reset();
  CHECK_FALSE(b.broken());
  std::vector<pid_t> pids;
  for (int i = 0; i < 2; ++i) pids.push_back(fork_child([&] { return b.wait(20s); }));
  const int mine = b.wait(20s);
  std::set<int> seen{mine};
  for (pid_t pid : pids) seen.insert(join(pid));
  CHECK(seen == std::set<int>{0, 1, 2});
}

TEST_CASE("Barrier: abort() and reset() break current waiters") {
  mp::Barrier b(3);
  mp::Barrier copy = b;
  CHECK(copy == b);
  CHECK_FALSE(mp::Barrier(3) == b);
  auto broken_waiter = [&] {
    return fork_child([&] {
      try {
        copy.wait(20s);
        return 1;
      } catch (const mp::BrokenBarrierError&) {
        return 0;
      }
    });
  };
  SECTION("abort") {
    std::vector<pid_t> pids{broken_waiter(), broken_waiter()};
    REQUIRE(eventually([&] { return b.n_waiting() == 2; }));
    b.abort();
    for (pid_t pid : pids) CHECK(join(pid) == 0);
    CHECK(b.broken());
    CHECK_THROWS_AS(b.wait(), mp::BrokenBarrierError);
  }
  SECTION("reset") {
    const pid_t pid = broken_waiter();
    REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
    b.reset();
    CHECK(join(pid) == 0);
    CHECK_FALSE(b.broken());
    CHECK(b.n_waiting() == 0);
    // Usable again at once.
    std::thread t1([&] { b.wait(10s); });
    std::thread t2([&] { b.wait(10s); });
    CHECK(b.wait(10s) >= 0);
    t1.join();
    t2.join();
  }
}

TEST_CASE("Barrier: threads, many rounds") {
  mp::Barrier b(4);
  std::atomic<int> sum{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int r = 0; r < 200; ++r) sum.fetch_add(b.wait(10s));
    });
  for (auto& t : threads) t.join();
  CHECK(sum.load() == 200 * (0 + 1 + 2 + 3));
}

// ------------------------------------------------------------------ transfer

namespace {

using all_handles = std::tuple<mp::Lock, mp::RLock, mp::Semaphore, mp::BoundedSemaphore, mp::Event,
                               mp::Condition, mp::Barrier>;

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

// The exec'd child: a fresh process that has none of the parent's mappings,
// so loads() must attach every segment by name (as under spawn).
int attached_child(std::span<const std::byte> bytes) {
  auto [lock, rlock, sem, bounded, event, cond, barrier] = mp::loads<all_handles>(bytes);
  if (!lock.locked()) return 10;  // the parent holds it
  lock.release();                 // and lets us release it
  if (!rlock.acquire(false) || !rlock.acquire(false)) return 11;
  rlock.release();
  rlock.release();
  if (sem.get_value() != 0) return 12;
  sem.release();
  try {
    bounded.release();
    return 13;
  } catch (const mp::ValueError&) {
  }
  event.set();
  {
    std::lock_guard g(cond);
    cond.notify_all();
  }
  if (barrier.wait(20s) < 0) return 14;
  return 0;
}

// Runs before Catch2's main in the exec'd child, and never returns into it.
const int attached_child_hook = [] {
  if (const char* hex = std::getenv("MP_TEST_SYNC_ATTACH")) {
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

pid_t exec_self_with(const std::string& hex) {
  return fork_child([&] {
    ::setenv("MP_TEST_SYNC_ATTACH", hex.c_str(), 1);
    ::execl("/proc/self/exe", "/proc/self/exe", static_cast<char*>(nullptr));
    return 96;
  });
}

}  // namespace

TEST_CASE("transfer: every handle is Transferable and round-trips to the same object") {
  static_assert(mp::Transferable<mp::Lock> && mp::Transferable<mp::RLock> &&
                mp::Transferable<mp::Semaphore> && mp::Transferable<mp::BoundedSemaphore> &&
                mp::Transferable<mp::Event> && mp::Transferable<mp::Condition> &&
                mp::Transferable<mp::Barrier>);
  mp::Lock lock;
  auto lock2 = mp::loads<mp::Lock>(mp::dumps(lock));
  CHECK(lock2 == lock);
  lock2.acquire();
  CHECK(lock.locked());
  lock.release();
  mp::RLock rlock;
  CHECK(mp::loads<mp::RLock>(mp::dumps(rlock)) == rlock);
  mp::Semaphore sem(3);
  auto sem2 = mp::loads<mp::Semaphore>(mp::dumps(sem));
  CHECK(sem2 == sem);
  CHECK(sem2.get_value() == 3);
  mp::BoundedSemaphore bounded(1);
  auto bounded2 = mp::loads<mp::BoundedSemaphore>(mp::dumps(bounded));
  CHECK(bounded2 == bounded);
  CHECK_THROWS_AS(bounded2.release(), mp::ValueError);
  mp::Event event;
  auto event2 = mp::loads<mp::Event>(mp::dumps(event));
  event2.set();
  CHECK(event.is_set());
  mp::Barrier barrier(2);
  auto barrier2 = mp::loads<mp::Barrier>(mp::dumps(barrier));
  CHECK(barrier2 == barrier);
  CHECK(barrier2.parties() == 2);
  for (mp::Condition cond : {mp::Condition(), mp::Condition(lock)}) {
    auto cond2 = mp::loads<mp::Condition>(mp::dumps(cond));
    CHECK(cond2 == cond);
    cond2.acquire();
    bool other_got = true;
    std::thread t([&] { other_got = cond.acquire(false); });
    t.join();
    CHECK_FALSE(other_got);
    cond2.release();
  }
  mp::Condition over_lock(lock);
  auto over_lock2 = mp::loads<mp::Condition>(mp::dumps(over_lock));
  over_lock2.acquire();
  CHECK(lock.locked());  // the loaded condition uses the same Lock
  over_lock2.release();
}

TEST_CASE("transfer: a freshly exec'd process attaches every handle by name") {
  mp::Lock lock;
  mp::RLock rlock;
  mp::Semaphore sem(0);
  mp::BoundedSemaphore bounded(1);
  mp::Event event;
  mp::Condition cond;
  mp::Barrier barrier(2);
  lock.acquire();
  const auto bytes = mp::dumps(all_handles{lock, rlock, sem, bounded, event, cond, barrier});
  const pid_t pid = exec_self_with(to_hex(bytes));
  CHECK(sem.acquire(20s));  // released by the child
  CHECK(event.wait(20s));
  CHECK(barrier.wait(20s) >= 0);
  CHECK(join(pid) == 0);
  CHECK_FALSE(lock.locked());
  CHECK_FALSE(rlock.locked());
}

TEST_CASE("transfer: a name of another kind of object or of no object is refused") {
  mp::Lock lock;
  mp::Event event;
  auto lock_bytes = mp::dumps(lock);
  auto event_bytes = mp::dumps(event);
  // An Event's segment name under a Lock's type tag: the segment's kind differs.
  std::copy_n(lock_bytes.begin(), 8, event_bytes.begin());
  CHECK_THROWS_AS(mp::loads<mp::Lock>(event_bytes), mp::ProcessError);
  // A segment that does not exist.
  lock_bytes.back() = static_cast<std::byte>(std::to_integer<unsigned>(lock_bytes.back()) ^ 1);
  CHECK_THROWS_AS(mp::loads<mp::Lock>(lock_bytes), mp::OSError);
  // Truncated.
  lock_bytes.resize(lock_bytes.size() - 3);
  CHECK_THROWS_AS(mp::loads<mp::Lock>(lock_bytes), mp::UnpicklingError);
}
