#pragma once
// Queue workloads of mp_bench (docs/benchmarks.md, sections 4 and 5), with
// the same counts, checks and gate as bench/python_bench.py:
//   queue_small_msgs_per_s  1 producer, 1 consumer, 200,000 int64 in order
//   queue_mpmc_msgs_per_s   2 producers, 2 consumers, 200,000 int64 in total,
//                           one -1 sentinel per producer

#include <multiprocessing/queues.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "mp_bench_support.hpp"

namespace mp_bench_queues {

using namespace mp_bench;

constexpr std::int64_t Q_N = 200000;  // messages per repetition

/// The gate protocol with one body per child (gate::run gives all the same body).
template <class... Bodies>
std::pair<double, std::vector<std::int64_t>> run_gated(int nresults, Bodies... bodies) {
  gate g;
  children kids;
  (kids.start([&g, bodies]() mutable { bodies(g); }), ...);
  for (std::size_t i = 0; i < sizeof...(Bodies); ++i) g.ready.acquire();
  const auto t0 = clock_type::now();
  g.start.set();
  std::vector<std::int64_t> res;
  for (int i = 0; i < nresults; ++i) res.push_back(int64_of(g.results.first.recv_bytes()));
  const double dt = seconds_since(t0);
  kids.join_all_ok();
  return {dt, res};
}

inline double rep_queue_spsc() {
  mp::Queue<std::int64_t> q;
  auto producer = [q](gate& g) mutable {
    g.child_wait();
    for (std::int64_t i = 0; i < Q_N; ++i) q.put(i);
  };
  auto consumer = [q](gate& g) mutable {
    g.child_wait();
    std::int64_t bad = 0;
    for (std::int64_t i = 0; i < Q_N; ++i)
      if (q.get() != i) ++bad;
    g.child_done(bad);
  };
  auto [dt, res] = run_gated(1, producer, consumer);
  check(res.size() == 1 && res[0] == 0, "queue_spsc: out-of-order or wrong messages");
  return static_cast<double>(Q_N) / dt;
}

inline double rep_queue_mpmc() {
  mp::Queue<std::int64_t> q;
  constexpr std::int64_t half = Q_N / 2;
  auto producer = [q](std::int64_t lo, std::int64_t hi) mutable {
    return [q, lo, hi](gate& g) mutable {
      g.child_wait();
      for (std::int64_t i = lo; i < hi; ++i) q.put(i);
      q.put(-1);
    };
  };
  // Reports (count << 40) | sum: the sum of 200,000 ints stays below 2^35.
  auto consumer = [q](gate& g) mutable {
    g.child_wait();
    std::int64_t count = 0, sum = 0;
    for (;;) {
      const std::int64_t v = q.get();
      if (v < 0) break;
      ++count;
      sum += v;
    }
    g.child_done((count << 40) | sum);
  };
  auto [dt, res] = run_gated(2, producer(0, half), producer(half, Q_N), consumer, consumer);
  std::int64_t count = 0, sum = 0;
  for (auto r : res) {
    count += r >> 40;
    sum += r & ((std::int64_t{1} << 40) - 1);
  }
  check(count == Q_N && sum == Q_N * (Q_N - 1) / 2, "queue_mpmc: lost or duplicated messages");
  return static_cast<double>(Q_N) / dt;
}

}  // namespace mp_bench_queues

inline void add_queues_workloads(std::vector<mp_bench::Workload>& w) {
  w.push_back({"queue_small_msgs_per_s", "msg/s", mp_bench_queues::rep_queue_spsc, nullptr});
  w.push_back({"queue_mpmc_msgs_per_s", "msg/s", mp_bench_queues::rep_queue_mpmc, nullptr});
}
