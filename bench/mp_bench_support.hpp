#pragma once
// What every mp_bench workload uses: timing, verification, the children of
// one repetition and the gate protocol (docs/benchmarks.md). Each area's
// workloads live in bench/workloads_<area>.hpp and register themselves with
// add_<area>_workloads(), which mp_bench.cpp calls when the file exists.

#include <multiprocessing/connection.hpp>
#include <multiprocessing/process.hpp>
#include <multiprocessing/synchronize.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mp = multiprocessing;

namespace mp_bench {

using clock_type = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux

/// One workload: a function returning the value of one repetition.
struct Workload {
  const char* name;
  const char* unit;
  double (*rep)();
  void (*warm_up)();  // untimed, once before the repetitions; may be null
};

using clock_type = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// A failed verification: the workload's value is not reported.
struct bench_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
inline void check(bool ok, const std::string& what) {
  if (!ok) throw bench_error(what);
}

inline long rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

inline std::span<const std::byte> bytes_of(const std::int64_t& v) {
  return std::as_bytes(std::span<const std::int64_t, 1>(&v, 1));
}
inline std::int64_t int64_of(const std::vector<std::byte>& b) {
  check(b.size() == sizeof(std::int64_t), "expected an 8-byte message");
  std::int64_t v;
  std::memcpy(&v, b.data(), sizeof v);
  return v;
}

/// Children of one repetition: on the normal path they have been joined; if a
/// check throws, the ones still running are killed so that nothing hangs.
struct children {
  std::vector<mp::Process> procs;
  template <class F, class... Args>
  void start(F&& f, Args&&... args) {
    procs.emplace_back(std::forward<F>(f), std::forward<Args>(args)...);
    procs.back().start();
  }
  void join_all_ok() {
    for (auto& p : procs) {
      p.join();
      check(p.exitcode() == 0, "a child failed (exit code " + std::to_string(*p.exitcode()) + ")");
    }
  }
  ~children() {
    for (auto& p : procs) {
      try {
        if (p.is_alive()) p.kill();
        p.join();
      } catch (...) {  // already reaped or never started: nothing left to stop
      }
    }
  }
};

/// The gate (docs/benchmarks.md) from the library's own primitives: each
/// child releases `ready` and waits for `start`; the parent waits for every
/// ready, takes t0, sets start, and takes t1 once it has read the expected
/// number of int64 results from `results` (a pipe all children write to).
struct gate {
  mp::Semaphore ready{0};
  mp::Event start;
  std::pair<mp::Connection, mp::Connection> results = mp::Pipe(false);  // {receive, send}

  void child_wait() {
    ready.release();
    start.wait();
  }
  void child_done(std::int64_t v) { results.second.send_bytes(bytes_of(v)); }

  /// Starts one child per body (each gets the gate), times the gated region,
  /// joins; returns the elapsed seconds and the children's results.
  template <class Body>
  std::pair<double, std::vector<std::int64_t>> run(int nchildren, Body body) {
    children kids;
    for (int i = 0; i < nchildren; ++i) kids.start([this, body]() mutable { body(*this); });
    for (int i = 0; i < nchildren; ++i) ready.acquire();
    const auto t0 = clock_type::now();
    start.set();
    std::vector<std::int64_t> res;
    for (int i = 0; i < nchildren; ++i) res.push_back(int64_of(results.first.recv_bytes()));
    const double dt = seconds_since(t0);
    kids.join_all_ok();
    return {dt, res};
  }
};

}  // namespace mp_bench
