#pragma once
// Workload 6 (docs/benchmarks.md): Pool(2), created before timing and warmed
// up until both workers answer, as python_bench.py does.
//   pool_map_tasks_per_s          map(square, iota(0, 1,000,000)), default chunksize
//   pool_apply_async_tasks_per_s  20,000 apply_async(square, i), then every get()
//   pool_map_cpu_speedup          64 x cpu_task serially, then Pool(2).map
//                                 (serial and parallel seconds go to stderr)

#include <multiprocessing/pool.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ranges>
#include <set>
#include <thread>
#include <vector>

#include "mp_bench_support.hpp"

namespace mp_bench_pool {

using namespace mp_bench;

constexpr std::int64_t MAP_N = 1'000'000;
constexpr int APPLY_N = 20'000;
constexpr int CPU_TASKS = 64;
constexpr std::uint64_t CPU_ARG = 10'000'000;
constexpr int N_POOL = 2;

inline volatile std::uint64_t cpu_arg = CPU_ARG;  // read at run time: no folding

// Lambdas without captures travel as their (empty) bytes.
inline constexpr auto square = [](std::int64_t x) { return x * x; };
inline constexpr auto cpu_task = [](std::uint64_t n) {
  std::uint64_t acc = 0;
  for (std::uint64_t i = 0; i < n; ++i) acc += (i * i) ^ (acc >> 7);
  return acc;
};
inline constexpr auto pid_after_sleep = [](int) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return static_cast<int>(::getpid());
};

/// Pool(2) whose two workers have both answered.
inline mp::Pool make_pool() {
  mp::Pool pool(N_POOL);
  for (int i = 0; i < 50; ++i) {
    auto pids = pool.map(pid_after_sleep, std::vector<int>{0, 1}, 1);
    if (std::set<int>(pids.begin(), pids.end()).size() == N_POOL) return pool;
  }
  throw bench_error("pool warm-up failed");
}

inline void close_pool(mp::Pool& pool) {
  pool.close();
  pool.join();
}

inline double rep_pool_map() {
  auto pool = make_pool();
  const auto t0 = clock_type::now();
  // Python's range(MAP_N): the items are made as the chunks are, no list first.
  auto r = pool.map(square, std::views::iota(std::int64_t{0}, MAP_N));
  const double dt = seconds_since(t0);
  close_pool(pool);
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  check(r.size() == static_cast<std::size_t>(MAP_N) &&
            sum == (MAP_N - 1) * MAP_N * (2 * MAP_N - 1) / 6,
        "pool.map result wrong");
  return static_cast<double>(MAP_N) / dt;
}

inline double rep_pool_apply_async() {
  auto pool = make_pool();
  const auto t0 = clock_type::now();
  std::vector<mp::AsyncResult<std::int64_t>> ars;
  ars.reserve(APPLY_N);
  for (int i = 0; i < APPLY_N; ++i) ars.push_back(pool.apply_async(square, std::int64_t{i}));
  std::vector<std::int64_t> out;
  out.reserve(APPLY_N);
  for (auto& a : ars) out.push_back(a.get());
  const double dt = seconds_since(t0);
  close_pool(pool);
  for (int i = 0; i < APPLY_N; ++i)
    check(out[static_cast<std::size_t>(i)] == std::int64_t{i} * i, "apply_async results wrong");
  return APPLY_N / dt;
}

inline double rep_pool_cpu() {
  auto pool = make_pool();
  const std::uint64_t n = cpu_arg;
  const auto t0 = clock_type::now();
  std::vector<std::uint64_t> serial;
  for (int i = 0; i < CPU_TASKS; ++i) serial.push_back(cpu_task(n));
  const auto t1 = clock_type::now();
  auto par = pool.map(cpu_task, std::vector<std::uint64_t>(CPU_TASKS, n));
  const auto t2 = clock_type::now();
  close_pool(pool);
  check(serial == par, "cpu results differ");
  const double s = std::chrono::duration<double>(t1 - t0).count();
  const double p = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "#   pool_map_cpu_serial_s=%.4f pool_map_cpu_parallel_s=%.4f\n", s, p);
  return s / p;
}

}  // namespace mp_bench_pool

inline void add_pool_workloads(std::vector<mp_bench::Workload>& w) {
  w.push_back({"pool_map_tasks_per_s", "tasks/s", mp_bench_pool::rep_pool_map, nullptr});
  w.push_back(
      {"pool_apply_async_tasks_per_s", "tasks/s", mp_bench_pool::rep_pool_apply_async, nullptr});
  w.push_back({"pool_map_cpu_speedup", "x", mp_bench_pool::rep_pool_cpu, nullptr});
}
