// Queue, SimpleQueue, JoinableQueue: every member and error, across threads
// and forked processes; messages from 1 byte to 256 MiB; producers and
// consumers killed in the middle of a put or a get; corrupt rings.
#include <multiprocessing/process.hpp>
#include <multiprocessing/detail/config.hpp>
#include <multiprocessing/pool.hpp>
#include <multiprocessing/queues.hpp>
#include <multiprocessing/reduction.hpp>
#include <multiprocessing/sharedctypes.hpp>
#include <multiprocessing/synchronize.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

// ---- support: children report through exit codes and shared memory ----

/// Joins p within `limit`, killing it if it is still running; returns its
/// exit code (-9 after the kill).
int finish(mp::Process& p, std::chrono::seconds limit = 60s) {
  if (!p.join(limit)) {
    p.kill();
    p.join();
  }
  return *p.exitcode();
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

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

mp::detail::queue_options small_ring(std::size_t bytes = 4096) { return {bytes}; }

struct point {  // trivially copyable: goes as its bytes
  double x, y;
  int id;
};

struct record {  // goes through serialize
  std::string name;
  std::vector<int> values;
  std::map<std::string, double> attrs;
  template <class A>
  void serialize(A& a) {
    a(name, values, attrs);
  }
  bool operator==(const record&) const = default;
};

struct item {  // one message of the MPMC test
  std::int32_t producer;
  std::int32_t seq;
};

/// n bytes that depend on seed and on their position (a block of a prime
/// length repeated with memcpy, every 64 KiB stamped with its index), cheap
/// enough to make 256 MiB of under a sanitizer.
std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::array<std::byte, 4099> block;
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : block) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  std::vector<std::byte> v(n);
  for (std::size_t at = 0; at < n; at += block.size())
    std::memcpy(v.data() + at, block.data(), std::min(block.size(), n - at));
  for (std::size_t at = 0; at + sizeof(std::uint64_t) <= n; at += 65536) {
    const std::uint64_t stamp = at;
    std::memcpy(v.data() + at, &stamp, sizeof stamp);
  }
  return v;
}

}  // namespace

// ------------------------------------------------------------ basics

TEST_CASE("Queue: FIFO in one process, qsize, empty, full when quiet") {
  mp::Queue<int> q;
  CHECK(q.empty());
  CHECK(q.qsize() == 0);
  CHECK_FALSE(q.full());
  for (int i = 0; i < 100; ++i) q.put(i);
  CHECK(q.qsize() == 100);
  CHECK_FALSE(q.empty());
  CHECK_FALSE(q.full());
  for (int i = 0; i < 100; ++i) CHECK(q.get() == i);
  CHECK(q.empty());
  CHECK(q.qsize() == 0);
  CHECK_THROWS_AS(q.get_nowait(), mp::Empty);
}

TEST_CASE("Queue: bounded queue counts items, Full and Empty with and without timeouts") {
  mp::Queue<std::string> q(3);
  q.put("a");
  q.put("b", 1s);
  q.put_nowait("c");
  CHECK(q.full());
  CHECK(q.qsize() == 3);
  CHECK_THROWS_AS(q.put_nowait("d"), mp::Full);
  auto t0 = clk::now();
  CHECK_THROWS_AS(q.put("d", 200ms), mp::Full);
  double dt = seconds_since(t0);
  CHECK(dt >= 0.19);
  CHECK(dt < 5.0);
  CHECK(q.get() == "a");
  CHECK_FALSE(q.full());
  q.put_nowait("d");
  CHECK(q.get_nowait() == "b");
  CHECK(q.get(1s) == "c");
  CHECK(q.get() == "d");
  CHECK(q.empty());
  CHECK(q.qsize() == 0);
  t0 = clk::now();
  CHECK_THROWS_AS(q.get(200ms), mp::Empty);
  dt = seconds_since(t0);
  CHECK(dt >= 0.19);
  CHECK(dt < 5.0);
  CHECK_THROWS_AS(q.get(-1s), mp::Empty);
}

TEST_CASE("Queue: a put blocked on a full queue proceeds when another process gets") {
  mp::Queue<int> q(1);
  q.put(1);
  mp::Process consumer([](mp::Queue<int> q) {
    std::this_thread::sleep_for(200ms);
    if (q.get(10s) != 1) std::_Exit(2);
    if (q.get(10s) != 2) std::_Exit(3);
  }, q);
  consumer.start();
  const auto t0 = clk::now();
  q.put(2, 20s);
  CHECK(seconds_since(t0) >= 0.1);
  CHECK(finish(consumer) == 0);
  CHECK(q.empty());
}

TEST_CASE("Queue: items of many types cross processes intact") {
  using V = std::variant<int, std::string, std::vector<double>>;
  mp::Queue<int> qi;
  mp::Queue<double> qd;
  mp::Queue<std::string> qs;
  mp::Queue<point> qp;
  mp::Queue<record> qr;
  mp::Queue<std::tuple<int, std::string, std::optional<long>>> qt;
  mp::Queue<V> qv;
  mp::Queue<std::vector<std::string>> qvs;
  mp::Process child([&] {
    qi.put(-7);
    qd.put(2.5);
    qs.put("");
    qs.put(std::string(1000, 'z'));
    qp.put(point{1.5, -2.5, 42});
    qr.put(record{"r", {1, 2, 3}, {{"a", 1.0}, {"b", 2.0}}});
    qt.put({5, "five", std::nullopt});
    qt.put({6, "six", 6L});
    qv.put(V{std::string("variant")});
    qv.put(V{std::vector<double>{1, 2}});
    qvs.put({"x", "yy", "zzz"});
  });
  child.start();
  CHECK(qi.get(30s) == -7);
  CHECK(qd.get(30s) == 2.5);
  CHECK(qs.get(30s).empty());
  CHECK(qs.get(30s) == std::string(1000, 'z'));
  const point p = qp.get(30s);
  CHECK(p.x == 1.5);
  CHECK(p.y == -2.5);
  CHECK(p.id == 42);
  CHECK(qr.get(30s) == record{"r", {1, 2, 3}, {{"a", 1.0}, {"b", 2.0}}});
  CHECK(qt.get(30s) == std::tuple<int, std::string, std::optional<long>>{5, "five", std::nullopt});
  CHECK(qt.get(30s) == std::tuple<int, std::string, std::optional<long>>{6, "six", 6L});
  CHECK(std::get<std::string>(qv.get(30s)) == "variant");
  CHECK(std::get<std::vector<double>>(qv.get(30s)) == std::vector<double>{1, 2});
  CHECK(qvs.get(30s) == std::vector<std::string>{"x", "yy", "zzz"});
  CHECK(finish(child) == 0);
}

TEST_CASE("Queue: handles are copies of one queue, transferable, wrong type is an error") {
  mp::Queue<int> a;
  mp::Queue<int> b = a;
  CHECK(a == b);
  CHECK_FALSE(a == mp::Queue<int>());
  b.put(5);
  CHECK(a.get() == 5);
  auto bytes = mp::dumps(a);
  auto c = mp::loads<mp::Queue<int>>(bytes);
  CHECK(c == a);
  c.put(6);
  CHECK(a.get() == 6);
  // The same segment as a queue of another item type or kind is refused.
  const auto tagged = mp::dumps(a);
  std::vector<std::byte> as_long(tagged);
  const auto tag = mp::detail::type_hash<mp::Queue<long>>();
  std::memcpy(as_long.data(), &tag, sizeof tag);
  CHECK_THROWS_AS(mp::loads<mp::Queue<long>>(as_long), mp::ProcessError);
  std::vector<std::byte> as_simple(tagged);
  const auto stag = mp::detail::type_hash<mp::SimpleQueue<int>>();
  std::memcpy(as_simple.data(), &stag, sizeof stag);
  CHECK_THROWS_AS(mp::loads<mp::SimpleQueue<int>>(as_simple), mp::ProcessError);
}

TEST_CASE("Queue: a handle sent as bytes through another queue works in the receiver") {
  mp::Queue<mp::Queue<std::string>> carrier;
  mp::Queue<std::string> reply;
  mp::Process child([](mp::Queue<mp::Queue<std::string>> carrier) {
    auto r = carrier.get(30s);
    r.put("via bytes");
  }, carrier);
  child.start();
  carrier.put(reply);
  CHECK(reply.get(30s) == "via bytes");
  CHECK(finish(child) == 0);
}

TEST_CASE("Queue: close makes put and get errors, join_thread needs close") {
  mp::Queue<int> q;
  q.put(1);
  CHECK_THROWS_AS(q.join_thread(), mp::ValueError);
  q.close();
  CHECK_THROWS_AS(q.put(2), mp::ValueError);
  CHECK_THROWS_AS(q.get_nowait(), mp::ValueError);
  q.join_thread();  // nothing buffered: returns at once
  // Another process's end of the queue is still open (close is per process).
  mp::Process child([](mp::Queue<int> q) {
    if (q.get(10s) != 1) std::_Exit(2);
    q.put(3);
  }, q);
  child.start();
  CHECK(finish(child) == 0);
  CHECK(q.qsize() == 1);
}

// ------------------------------------------------------------ unbounded put

TEST_CASE("Queue: put never waits for a consumer, a producer's exit waits for its buffer") {
  // 20000 items of ~100 bytes do not fit in a 4 KiB ring: most wait in the
  // child's buffer, and its feeder delivers them after put() has returned.
  mp::Queue<std::string> q(0, small_ring());
  mp::Event put_done;
  constexpr int n = 20000;
  mp::Process producer([&] {
    for (int i = 0; i < n; ++i) q.put(std::to_string(i) + std::string(90, 'p'));
    put_done.set();
  });
  producer.start();
  REQUIRE(put_done.wait(60s));  // nobody has read anything yet
  CHECK(q.qsize() == n);
  int bad = 0;
  for (int i = 0; i < n; ++i)
    if (q.get(30s) != std::to_string(i) + std::string(90, 'p')) ++bad;
  CHECK(bad == 0);
  CHECK(finish(producer) == 0);
  CHECK(q.empty());
  CHECK(q.qsize() == 0);
}

TEST_CASE("Queue: an item put just before the producer returns is delivered") {
  mp::Queue<int> q(0, small_ring());
  mp::Process producer([](mp::Queue<int> q) {
    for (int i = 0; i < 2000; ++i) q.put(i);
  }, q);
  producer.start();
  std::this_thread::sleep_for(300ms);  // the producer has returned by now and waits in its feeder
  int bad = 0;
  for (int i = 0; i < 2000; ++i)
    if (q.get(30s) != i) ++bad;
  CHECK(bad == 0);
  CHECK(finish(producer) == 0);
}

TEST_CASE("Queue: cancel_join_thread lets a producer end without waiting for a consumer") {
  mp::Queue<std::string> q(0, small_ring());
  mp::Process producer([](mp::Queue<std::string> q) {
    q.cancel_join_thread();
    for (int i = 0; i < 1000; ++i) q.put(std::string(200, 'c'));
  }, q);
  producer.start();
  const auto t0 = clk::now();
  CHECK(producer.join(30s));
  CHECK(seconds_since(t0) < 20.0);
  CHECK(producer.exitcode() == 0);
  // What reached the ring before the end is intact.
  int got = 0, bad = 0;
  try {
    for (;;) {
      if (q.get(500ms) != std::string(200, 'c')) ++bad;
      ++got;
    }
  } catch (const mp::Empty&) {
  }
  CHECK(bad == 0);
  CHECK(got > 0);
  CHECK(got < 1000);
}

TEST_CASE("Queue: join_thread after close waits until the buffer is in the ring") {
  mp::Queue<int> q(0, small_ring());
  mp::Process consumer([](mp::Queue<int> q) {
    for (int i = 0; i < 3000; ++i)
      if (q.get(30s) != i) std::_Exit(2);
  }, q);
  consumer.start();
  for (int i = 0; i < 3000; ++i) q.put(i);  // most wait in this process's buffer
  q.close();
  q.join_thread();
  CHECK(finish(consumer) == 0);
}

// ------------------------------------------------------------ many producers and consumers

TEST_CASE("Queue: 4 producers x 4 consumers x 100k items: each once, per-producer order kept") {
  constexpr int P = 4, C = 4, N = 100000;
  mp::Queue<item> q;
  mp::RawArray<std::uint32_t> seen(static_cast<std::size_t>(P) * N);
  mp::RawArray<std::int32_t> disorder(C);
  std::vector<mp::Process> procs;
  for (int c = 0; c < C; ++c) {
    procs.emplace_back([&, c] {
      std::array<std::int32_t, P> last;
      last.fill(-1);
      int sentinels = 0;
      while (sentinels < 1) {
        const item it = q.get();
        if (it.producer < 0) {
          ++sentinels;
          continue;
        }
        if (it.producer >= P || it.seq < 0 || it.seq >= N || it.seq <= last[it.producer]) ++disorder[c];
        else {
          last[it.producer] = it.seq;
          std::atomic_ref<std::uint32_t>(seen[static_cast<std::size_t>(it.producer) * N + it.seq])
              .fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (int p = 0; p < P; ++p)
    procs.emplace_back([&, p] {
      for (int i = 0; i < N; ++i) q.put(item{p, i});
    });
  for (auto& pr : procs) pr.start();
  for (int p = 0; p < P; ++p) CHECK(finish(procs[C + p], 100s) == 0);
  for (int c = 0; c < C; ++c) q.put(item{-1, 0});
  for (int c = 0; c < C; ++c) CHECK(finish(procs[c], 100s) == 0);
  int disordered = 0;
  for (int c = 0; c < C; ++c) disordered += disorder[c];
  CHECK(disordered == 0);
  std::size_t missing = 0, duplicated = 0;
  for (auto v : seen) {
    if (v == 0) ++missing;
    if (v > 1) ++duplicated;
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  CHECK(q.empty());
  CHECK(q.qsize() == 0);
}

TEST_CASE("Queue: threads of one process share the queue safely") {
  mp::Queue<item> q(0, small_ring(8192));
  constexpr int T = 3, N = 20000;
  std::vector<std::thread> threads;
  std::atomic<long> sum{0};
  std::atomic<int> disorder{0};
  for (int t = 0; t < T; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < N; ++i) q.put(item{t, i});
    });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      std::array<int, T> last{-1, -1, -1};
      for (;;) {
        const item it = q.get(30s);
        if (it.producer < 0) return;
        if (it.seq <= last[it.producer]) disorder.fetch_add(1);
        last[it.producer] = it.seq;
        sum.fetch_add(it.seq);
      }
    });
  for (auto& t : threads) t.join();
  q.put(item{-1, 0});
  q.put(item{-1, 0});
  for (auto& r : readers) r.join();
  CHECK(disorder.load() == 0);
  CHECK(sum.load() == static_cast<long>(T) * N * (N - 1) / 2);
}

// ------------------------------------------------------------ tutorials

TEST_CASE("Queue: the tutorial producer/consumer with a None sentinel") {
  mp::Queue<std::optional<int>> q;
  mp::Queue<long> results;
  mp::Process consumer([](mp::Queue<std::optional<int>> q, mp::Queue<long> out) {
    long total = 0;
    while (auto v = q.get()) total += *v * *v;
    out.put(total);
  }, q, results);
  mp::Process producer([](mp::Queue<std::optional<int>> q) {
    for (int i = 0; i < 10; ++i) q.put(i);
    q.put(std::nullopt);
  }, q);
  consumer.start();
  producer.start();
  CHECK(results.get(30s) == 285);
  CHECK(finish(producer) == 0);
  CHECK(finish(consumer) == 0);
}

TEST_CASE("Queue: tutorial worker pool with task and done queues") {
  mp::Queue<std::optional<int>> tasks;
  mp::Queue<std::pair<int, int>> done;
  std::vector<mp::Process> workers;
  for (int w = 0; w < 3; ++w)
    workers.emplace_back([&] {
      while (auto n = tasks.get()) done.put({*n, *n * 2});
    });
  for (auto& w : workers) w.start();
  for (int i = 0; i < 50; ++i) tasks.put(i);
  for (int w = 0; w < 3; ++w) tasks.put(std::nullopt);
  std::vector<int> got(50, -1);
  for (int i = 0; i < 50; ++i) {
    auto [n, d] = done.get(30s);
    got[n] = d;
  }
  for (int i = 0; i < 50; ++i) CHECK(got[i] == 2 * i);
  for (auto& w : workers) CHECK(finish(w) == 0);
}

// A pool task is a function with external linkage (docs/deviations.md).
int queues_test_pool_task(mp::Queue<int> results, mp::JoinableQueue<int> work) {
  const int n = work.get(30s);
  results.put(n * n);
  work.task_done();
  return n;
}

TEST_CASE("Queue: handles as pool-task arguments reach the same queues") {
  mp::Queue<int> results;
  mp::JoinableQueue<int> work;
  for (int i = 0; i < 20; ++i) work.put(i);
  {
    mp::Pool pool(2);
    std::vector<mp::AsyncResult<int>> rs;
    for (int i = 0; i < 20; ++i) rs.push_back(pool.apply_async(&queues_test_pool_task, results, work));
    std::multiset<int> taken;
    for (auto& r : rs) taken.insert(r.get(30s));
    CHECK(taken.size() == 20);
    CHECK(*taken.begin() == 0);
    CHECK(*taken.rbegin() == 19);
  }
  work.join();  // every item got its task_done, in the workers
  long sum = 0;
  for (int i = 0; i < 20; ++i) sum += results.get(10s);
  CHECK(sum == 2470);  // 0^2 + ... + 19^2
  CHECK(results.empty());
}

// ------------------------------------------------------------ JoinableQueue, SimpleQueue

TEST_CASE("JoinableQueue: join returns once every item got its task_done") {
  mp::JoinableQueue<int> q;
  q.join();  // nothing put: returns at once
  mp::Value<int> processed(0);
  mp::Process worker([&] {
    for (;;) {
      int v = q.get();
      if (v < 0) {
        q.task_done();
        return;
      }
      std::this_thread::sleep_for(2ms);
      processed.value() += 1;
      q.task_done();
    }
  });
  worker.start();
  for (int i = 0; i < 50; ++i) q.put(i);
  q.put(-1);
  q.join();
  CHECK(processed.value() == 50);
  CHECK_THROWS_AS(q.task_done(), mp::ValueError);
  CHECK(finish(worker) == 0);
  // A JoinableQueue is a Queue.
  mp::Queue<int>& base = q;
  base.put(7);
  CHECK(q.get() == 7);
  q.task_done();
  q.join();
}

TEST_CASE("JoinableQueue: join blocks while a task is outstanding") {
  mp::JoinableQueue<std::string> q(0, small_ring());
  q.put("job");
  std::atomic<bool> joined{false};
  std::thread t([&] {
    q.join();
    joined = true;
  });
  std::this_thread::sleep_for(200ms);
  CHECK_FALSE(joined.load());
  CHECK(q.get() == "job");
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(joined.load());
  q.task_done();
  t.join();
  CHECK(joined.load());
}

TEST_CASE("SimpleQueue: put, get, empty, close across processes") {
  mp::SimpleQueue<std::vector<int>> q(small_ring());
  CHECK(q.empty());
  mp::Process child([](mp::SimpleQueue<std::vector<int>> q) {
    for (int i = 0; i < 500; ++i) q.put(std::vector<int>(static_cast<std::size_t>(i % 50), i));
  }, q);
  child.start();
  int bad = 0;
  for (int i = 0; i < 500; ++i)
    if (q.get() != std::vector<int>(static_cast<std::size_t>(i % 50), i)) ++bad;
  CHECK(bad == 0);
  CHECK(finish(child) == 0);
  CHECK(q.empty());
  auto copy = mp::loads<mp::SimpleQueue<std::vector<int>>>(mp::dumps(q));
  CHECK(copy == q);
  q.close();
  CHECK_THROWS_AS(q.put({1}), mp::OSError);
  CHECK_THROWS_AS(q.get(), mp::OSError);
}

// ------------------------------------------------------------ message sizes

TEST_CASE("Queue: messages from 1 byte to 256 MiB through one queue") {
  // TSan makes every copy several times slower and this test nears its time
  // limit there: the largest message is 64 MiB under TSan (same code path).
  const std::size_t largest = MULTIPROCESSING_TSAN ? 64u << 20 : 256u << 20;
  const std::vector<std::size_t> sizes = {1, 7, 100, 4096, 300000, (1u << 20) + 1, 16u << 20, largest};
  const std::size_t up_sizes = sizes.size() - 1;
  mp::Queue<std::vector<std::byte>> down;
  mp::Queue<std::vector<std::byte>> up;
  mp::Process child([&] {
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      auto m = down.get(60s);
      if (m != pattern(sizes[k], static_cast<unsigned>(k))) std::_Exit(2);
    }
    // Back up to 16 MiB: 256 MiB both ways takes minutes under TSan.
    for (std::size_t k = 0; k < up_sizes; ++k) up.put(pattern(sizes[k], static_cast<unsigned>(k + 100)));
  });
  child.start();
  const auto t0 = clk::now();
  for (std::size_t k = 0; k < sizes.size(); ++k) down.put(pattern(sizes[k], static_cast<unsigned>(k)));
  CHECK(seconds_since(t0) < 30.0);  // put did not wait for the child to read
  for (std::size_t k = 0; k < up_sizes; ++k) {
    auto m = up.get(60s);
    CHECK(m.size() == sizes[k]);
    CHECK((m == pattern(sizes[k], static_cast<unsigned>(k + 100))));
  }
  CHECK(finish(child, 100s) == 0);
  CHECK(down.empty());
  CHECK(up.empty());
}

TEST_CASE("SimpleQueue: messages many times the ring size, interleaved with small ones") {
  mp::SimpleQueue<std::string> q(small_ring(4096));
  mp::Process child([](mp::SimpleQueue<std::string> q) {
    for (int i = 0; i < 20; ++i) {
      q.put(std::string(static_cast<std::size_t>(i) * 3001, static_cast<char>('a' + i)));
      q.put("small");
    }
  }, q);
  child.start();
  int bad = 0;
  for (int i = 0; i < 20; ++i) {
    if (q.get() != std::string(static_cast<std::size_t>(i) * 3001, static_cast<char>('a' + i))) ++bad;
    if (q.get() != "small") ++bad;
  }
  CHECK(bad == 0);
  CHECK(finish(child) == 0);
}

// ------------------------------------------------------------ crashes

TEST_CASE("Queue: a consumer killed in the middle of gets leaves the queue usable, at most one item lost") {
  constexpr int N = 500000;
  mp::Queue<int> q(0, small_ring(16 << 20));  // all of them fit: no feeder thread before fork
  mp::RawArray<std::uint8_t> seen(N);
  mp::Value<int> progress(0);
  for (int i = 0; i < N; ++i) q.put(i);
  mp::Process victim([&] {
    for (;;) {
      const int v = q.get();
      seen[static_cast<std::size_t>(v)] += 1;
      std::atomic_ref<int>(progress.value()).fetch_add(1, std::memory_order_relaxed);
    }
  });
  victim.start();
  REQUIRE(test_util::wait_until(
      [&] { return std::atomic_ref<int>(progress.value()).load() > 1000; }, 30s));
  victim.kill();
  victim.join();
  int got = 0;
  try {
    for (;;) {
      const int v = q.get(500ms);
      seen[static_cast<std::size_t>(v)] += 1;
      ++got;
    }
  } catch (const mp::Empty&) {
  }
  int missing = 0, dup = 0;
  for (auto s : seen) {
    if (s == 0) ++missing;
    if (s > 1) ++dup;
  }
  CHECK(dup == 0);
  CHECK(missing <= 1);
  CHECK(got > 0);
  // Still usable both ways.
  q.put(-5);
  CHECK(q.get(10s) == -5);
}

TEST_CASE("Queue: a producer killed in the middle of puts leaves the queue usable") {
  mp::Queue<item> q(0, small_ring(1 << 16));
  mp::Value<int> progress(0);
  mp::Process victim([&] {
    for (int i = 0;; ++i) {
      q.put_nowait(item{0, i});
      std::atomic_ref<int>(progress.value()).store(i, std::memory_order_relaxed);
    }
  });
  victim.start();
  // Let it fill the ring and more (its feeder then writes while we read).
  REQUIRE(test_util::wait_until(
      [&] { return std::atomic_ref<int>(progress.value()).load() > 20000; }, 30s));
  std::thread drain_some([&] {
    for (int i = 0; i < 1000; ++i) (void)q.get(10s);
  });
  drain_some.join();
  victim.kill();
  victim.join();
  // Everything of the victim that arrives is in order; then ours follows.
  mp::Process other([](mp::Queue<item> q) {
    for (int i = 0; i < 100; ++i) q.put(item{1, i});
  }, q);
  other.start();
  int last = 999, gaps = 0, ours = 0;
  for (;;) {
    item it{};
    try {
      it = q.get(5s);
    } catch (const mp::Empty&) {
      break;
    }
    if (it.producer == 0) {
      if (it.seq != last + 1) ++gaps;
      last = it.seq;
    } else {
      CHECK(it.seq == ours);
      ++ours;
    }
  }
  CHECK(gaps == 0);
  CHECK(ours == 100);
  CHECK(finish(other) == 0);
}

TEST_CASE("Queue: a writer killed between the pieces of a big message loses only that message") {
  mp::Queue<std::string> q(0, small_ring(4096));
  q.put("before");
  mp::Process victim([](mp::Queue<std::string> q) {
    q.put(std::string(1 << 20, 'v'));  // ~256 pieces: its feeder waits for a reader between them
  }, q);
  victim.start();
  auto raw = mp::detail::shared_ref<mp::detail::queue_shared>::attach(
      mp::detail::handle_access::ref(q)->name());
  // Wait until the ring is full of the first pieces and the writer waits.
  REQUIRE(test_util::wait_until([&] { return raw->tail.load() - raw->head.load() > 3000; }, 30s));
  std::this_thread::sleep_for(100ms);
  victim.kill();
  victim.join();
  CHECK(q.get(10s) == "before");
  std::atomic<int> outcome{0};
  std::thread reader([&] {  // reads the pieces there are, then finds the writer gone
    try {
      outcome = q.get(20s) == "after" ? 1 : 2;
    } catch (const mp::Empty&) {
      outcome = 3;
    }
  });
  std::this_thread::sleep_for(100ms);
  q.put("after");  // the put lock is taken over from the dead writer
  reader.join();
  CHECK(outcome.load() == 1);
  q.put("again");
  CHECK(q.get(10s) == "again");
  CHECK(q.empty());
}

TEST_CASE("Queue: a reader killed between the pieces of a big message loses only that message") {
  mp::Queue<std::string> q(0, small_ring(4096));
  auto raw = mp::detail::shared_ref<mp::detail::queue_shared>::attach(
      mp::detail::handle_access::ref(q)->name());
  mp::Process victim([](mp::Queue<std::string> q) { (void)q.get(); }, q);
  victim.start();
  mp::Process writer([](mp::Queue<std::string> q) {
    q.put(std::string(16 << 20, 'w'));
    q.put("next");
  }, q);
  writer.start();
  // Stop the writer as soon as it has begun, so that the victim waits in
  // the middle of the message; then kill the victim and let the writer go on.
  REQUIRE(test_util::wait_until([&] { return raw->tail.load() > 0; }, 30s));
  ::kill(*writer.pid(), SIGSTOP);
  std::this_thread::sleep_for(200ms);
  victim.kill();
  victim.join();
  ::kill(*writer.pid(), SIGCONT);
  std::string s = q.get(30s);
  // Usually the victim took the first piece and its message is lost; if the
  // writer was faster than the stop, the victim got it whole.
  if (s.size() == (16u << 20)) s = q.get(30s);
  CHECK(s == "next");
  CHECK(finish(writer) == 0);
  CHECK(q.empty());
}

// ------------------------------------------------------------ corruption

namespace {
mp::detail::shared_ref<mp::detail::queue_shared> raw_view(const mp::Queue<int>& q) {
  return mp::detail::shared_ref<mp::detail::queue_shared>::attach(
      mp::detail::handle_access::ref(q)->name());
}
}  // namespace

TEST_CASE("Queue: a corrupt ring is an error, not a crash or a hang") {
  SECTION("bad magic") {
    mp::Queue<int> q;
    q.put(1);
    auto raw = raw_view(q);
    raw->magic ^= 1;
    CHECK_THROWS_AS(q.put(2), mp::ProcessError);
    CHECK_THROWS_AS(q.get(1s), mp::ProcessError);
    CHECK_THROWS_AS(mp::loads<mp::Queue<int>>(mp::dumps(q)), mp::ProcessError);
    raw->magic ^= 1;
    CHECK(q.get(1s) == 1);
  }
  SECTION("bad record header") {
    mp::Queue<int> q;
    q.put(1);
    auto raw = raw_view(q);
    raw.extra()[5] = std::byte{0};  // the check byte of the first record
    CHECK_THROWS_AS(q.get(1s), mp::ProcessError);
  }
  SECTION("impossible record length") {
    mp::Queue<int> q;
    q.put(1);
    auto raw = raw_view(q);
    const std::uint32_t huge = 1u << 30;
    std::memcpy(raw.extra(), &huge, sizeof huge);
    CHECK_THROWS_AS(q.get(1s), mp::ProcessError);
  }
  SECTION("tail far past head") {
    mp::Queue<int> q;
    q.put(1);
    auto raw = raw_view(q);
    raw->tail.store(std::uint64_t{1} << 40);
    CHECK_THROWS_AS(q.get(1s), mp::ProcessError);
  }
  SECTION("a first piece announcing an impossible length") {
    mp::Queue<int> q;
    auto raw = raw_view(q);
    const mp::detail::record_header h{16, mp::detail::rec_first, mp::detail::record_check, 1};
    const std::uint64_t total = std::uint64_t{1} << 62;
    std::memcpy(raw.extra(), &h, sizeof h);
    std::memcpy(raw.extra() + 8, &total, sizeof total);
    raw->tail.store(24);
    CHECK_THROWS_AS(q.get(1s), mp::ProcessError);
  }
  SECTION("a payload that does not decode is UnpicklingError and consumed") {
    mp::Queue<std::string> q;
    q.put("abc");
    auto raw = mp::detail::shared_ref<mp::detail::queue_shared>::attach(
        mp::detail::handle_access::ref(q)->name());
    const std::uint64_t bogus = 1000;  // string length beyond the message
    std::memcpy(raw.extra() + 8, &bogus, sizeof bogus);
    q.put("ok");
    CHECK_THROWS_AS(q.get(1s), mp::UnpicklingError);
    CHECK(q.get(1s) == "ok");
  }
}

// ------------------------------------------------------------ exit paths

TEST_CASE("Queue: buffered items are delivered when main returns, calls exit(), or a target calls exit()") {
  for (const char* how : {"return", "exit", "child-exit"}) {
    INFO(how);
    const auto r = test_util::run_program(test_util::helper("mp_queue_exit"), {how}, 60s);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "got 5000 in order\n");
  }
}
