// mp_bench.cpp -- the "C++" column of tools/bench: the benchmark workloads
// done with this library, under the same names, counts, gate protocol and
// verification as Python's multiprocessing (bench/python_bench.py) and the
// raw OS calls (bench/raw_bench.cpp). Definitions: docs/benchmarks.md.
//
//   mp_bench [--reps N] [--only SUBSTR[,SUBSTR...]] [--list]
//
// stdout: one line per workload, name<TAB>value<TAB>unit (median of --reps,
// default 5). stderr: per-repetition values and wall time. Exits 1 if any
// verification fails (the other workloads still run).
//
// A workload is one function returning the value of one repetition; every
// repetition creates its own pipes, locks and children. Add a workload by
// writing its function and adding a row to all_workloads(); a later area
// adds its own in bench/workloads_<area>.hpp (see mp_bench_support.hpp).

#include <multiprocessing/connection.hpp>
#include <multiprocessing/process.hpp>
#include <multiprocessing/sharedctypes.hpp>
#include <multiprocessing/synchronize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mp_bench_support.hpp"

// Later areas' workloads, each in its own file (see mp_bench_support.hpp).
#if __has_include("workloads_queues.hpp")
#include "workloads_queues.hpp"
#define MP_BENCH_QUEUES 1
#endif
#if __has_include("workloads_pool.hpp")
#include "workloads_pool.hpp"
#define MP_BENCH_POOL 1
#endif
#if __has_include("workloads_managers.hpp")
#include "workloads_managers.hpp"
#define MP_BENCH_MANAGERS 1
#endif

namespace {

using namespace mp_bench;

// ---------------------------------------------------------------------------
// Workload parameters (part of the definitions, docs/benchmarks.md)
// ---------------------------------------------------------------------------
constexpr int PROC_N_FORK = 2000;          // sequential Process start+join per repetition
constexpr int RT_WARM = 200;               // untimed warm-up round trips
constexpr int RT_N = 10000;                // timed round trips
constexpr std::size_t TPUT_MSG = 1u << 20;  // 1 MiB
constexpr int TPUT_N = 512;                // messages per repetition
constexpr long LOCK_N = 5000000;           // uncontended acquire/release pairs
constexpr long CONT_N = 100000;            // per process (lock_contended, value_increment)

int g_reps = 5;
std::vector<std::string> g_only;

// ---------------------------------------------------------------------------
// 1. process_start_join_us_fork: N sequential Process(noop) start + join
// ---------------------------------------------------------------------------
void noop() {}

void start_join_once() {
  mp::Process p(noop);
  p.start();
  p.join();
  check(p.exitcode() == 0, "process_start: child exit code is not 0");
}

double rep_process_start_join() {
  const auto t0 = clock_type::now();
  for (int i = 0; i < PROC_N_FORK; ++i) start_join_once();
  const double us = seconds_since(t0) / PROC_N_FORK * 1e6;
  std::fprintf(stderr, "#   parent_rss_kib=%ld\n", rss_kib());
  return us;
}

// ---------------------------------------------------------------------------
// 2. pipe_roundtrip_us: duplex Pipe, 8-byte send_bytes/recv_bytes echo
// ---------------------------------------------------------------------------
void echo_child(mp::Connection c) {
  for (int i = 0; i < RT_WARM + RT_N; ++i) c.send_bytes(c.recv_bytes());
}

double rep_pipe_roundtrip() {
  auto [a, b] = mp::Pipe();
  children kids;
  kids.start(echo_child, std::move(b));  // the parent's copy of b closes once the child runs
  for (std::int64_t i = 0; i < RT_WARM; ++i) {
    a.send_bytes(bytes_of(i));
    (void)a.recv_bytes();
  }
  const auto t0 = clock_type::now();
  for (std::int64_t i = 0; i < RT_N; ++i) {
    a.send_bytes(bytes_of(i));
    check(int64_of(a.recv_bytes()) == i, "pipe_roundtrip: bad echo");
  }
  const double dt = seconds_since(t0);
  kids.join_all_ok();
  return dt / RT_N * 1e6;
}

// ---------------------------------------------------------------------------
// 3. pipe_throughput_MBps: 512 x 1 MiB parent -> child over a duplex Pipe;
//    acks ("ready", then "ok"/"bad") over a one-way Pipe
// ---------------------------------------------------------------------------
void stamp(std::vector<std::byte>& buf, std::int64_t i) {
  std::memcpy(buf.data(), &i, 8);
  std::memcpy(buf.data() + TPUT_MSG - 8, &i, 8);
}
bool stamped(const std::vector<std::byte>& buf, std::int64_t i) {
  if (buf.size() != TPUT_MSG) return false;
  std::int64_t first, last;
  std::memcpy(&first, buf.data(), 8);
  std::memcpy(&last, buf.data() + TPUT_MSG - 8, 8);
  return first == i && last == i;
}

void sink_child(mp::Connection in, mp::Connection ack) {
  ack.send_bytes("r");
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < TPUT_N; ++i)
    if (!stamped(in.recv_bytes(), i)) ++bad;
  ack.send_bytes(bad == 0 ? "ok" : "bad");
}

std::string as_string(const std::vector<std::byte>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

double rep_pipe_throughput() {
  auto [r, w] = mp::Pipe();
  auto [ack_r, ack_w] = mp::Pipe(false);
  children kids;
  kids.start(sink_child, std::move(r), std::move(ack_w));
  check(as_string(ack_r.recv_bytes()) == "r", "pipe_throughput: sink not ready");
  std::vector<std::byte> buf(TPUT_MSG, std::byte{'x'});
  const auto t0 = clock_type::now();
  for (std::int64_t i = 0; i < TPUT_N; ++i) {
    stamp(buf, i);
    w.send_bytes(std::span<const std::byte>(buf));
  }
  const std::string ok = as_string(ack_r.recv_bytes());
  const double dt = seconds_since(t0);
  check(ok == "ok", "pipe_throughput: the sink saw corrupted or short messages");
  kids.join_all_ok();
  return static_cast<double>(TPUT_N) * TPUT_MSG / dt / 1e6;
}

// ---------------------------------------------------------------------------
// 7. lock_uncontended_ns: Lock acquire+release pairs in one process
// ---------------------------------------------------------------------------
double rep_lock_uncontended() {
  mp::Lock lock;
  long taken = 0;
  const auto t0 = clock_type::now();
  for (long i = 0; i < LOCK_N; ++i) {
    taken += lock.acquire();
    lock.release();
  }
  const double dt = seconds_since(t0);
  check(taken == LOCK_N && !lock.locked(), "lock_uncontended: an acquire failed");
  return dt / LOCK_N * 1e9;
}

// ---------------------------------------------------------------------------
// 8. lock_contended_ops_per_s: 2 gated processes x 100,000 increments of a
//    RawValue<int64_t> under one Lock
// ---------------------------------------------------------------------------
double rep_lock_contended() {
  mp::Lock lock;
  mp::RawValue<std::int64_t> counter(0);
  gate g;
  auto [dt, res] = g.run(2, [lock, counter](gate& g) mutable {
    g.child_wait();
    for (long i = 0; i < CONT_N; ++i) {
      lock.acquire();
      counter.value() += 1;
      lock.release();
    }
    g.child_done(CONT_N);
  });
  check(res[0] + res[1] == 2 * CONT_N && counter.value() == 2 * CONT_N,
        "lock_contended: final count " + std::to_string(counter.value()) + " != " +
            std::to_string(2 * CONT_N));
  return 2 * CONT_N / dt;
}

// ---------------------------------------------------------------------------
// 10. value_increment_ops_per_s: 2 gated processes x 100,000
//     { std::lock_guard g(v.get_lock()); v.value() += 1; } on a Value<int64_t>
// ---------------------------------------------------------------------------
double rep_value_increment() {
  mp::Value<std::int64_t> v(0);
  gate g;
  auto [dt, res] = g.run(2, [v](gate& g) {
    g.child_wait();
    for (long i = 0; i < CONT_N; ++i) {
      std::lock_guard guard(v.get_lock());
      v.value() += 1;
    }
    g.child_done(CONT_N);
  });
  check(res[0] + res[1] == 2 * CONT_N && v.value() == 2 * CONT_N,
        "value_increment: final count " + std::to_string(v.value()) + " != " +
            std::to_string(2 * CONT_N));
  return 2 * CONT_N / dt;
}

// ---------------------------------------------------------------------------
// The workloads, in the order they run. Later areas (queues, pool, manager)
// add their rows here, named exactly as in python_bench.py.
// ---------------------------------------------------------------------------
void warm_up_process_start() {
  for (int i = 0; i < 3; ++i) start_join_once();
}
std::vector<Workload> all_workloads() {
  std::vector<Workload> w = {
      {"process_start_join_us_fork", "us", rep_process_start_join, warm_up_process_start},
      {"pipe_roundtrip_us", "us", rep_pipe_roundtrip, nullptr},
      {"pipe_throughput_MBps", "MB/s", rep_pipe_throughput, nullptr},
      {"lock_uncontended_ns", "ns", rep_lock_uncontended, nullptr},
      {"lock_contended_ops_per_s", "ops/s", rep_lock_contended, nullptr},
      {"value_increment_ops_per_s", "ops/s", rep_value_increment, nullptr},
  };
#ifdef MP_BENCH_QUEUES
  add_queues_workloads(w);
#endif
#ifdef MP_BENCH_POOL
  add_pool_workloads(w);
#endif
#ifdef MP_BENCH_MANAGERS
  add_managers_workloads(w);
#endif
  return w;
}

bool wanted(const char* name) {
  if (g_only.empty()) return true;
  for (auto& s : g_only)
    if (std::strstr(name, s.c_str())) return true;
  return false;
}
std::string fmt(double v, std::string_view u) {
  char b[64];
  if (u == "msg/s" || u == "tasks/s" || u == "ops/s")
    std::snprintf(b, sizeof b, "%.0f", v);
  else if (u == "MB/s" || u == "ns")
    std::snprintf(b, sizeof b, "%.1f", v);
  else if (u == "us" || u == "ms")
    std::snprintf(b, sizeof b, "%.2f", v);
  else if (u == "s")
    std::snprintf(b, sizeof b, "%.4f", v);
  else
    std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Runs one workload; false if it failed (reported on stderr).
bool run(const Workload& w) {
  const auto t = clock_type::now();
  std::vector<double> vals;
  try {
    if (w.warm_up) w.warm_up();
    for (int i = 0; i < g_reps; ++i) vals.push_back(w.rep());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ERROR: %s: %s\n", w.name, e.what());
    return false;
  }
  std::printf("%s\t%s\t%s\n", w.name, fmt(median(vals), w.unit).c_str(), w.unit);
  std::fflush(stdout);
  std::string s;
  for (size_t i = 0; i < vals.size(); ++i) s += (i ? ", " : "") + fmt(vals[i], w.unit);
  std::fprintf(stderr, "# %s: reps=[%s] wall=%.2fs\n", w.name, s.c_str(), seconds_since(t));
  return true;
}

void split_into(const std::string& s, std::vector<std::string>& out) {
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t e = s.find(',', pos);
    if (e == std::string::npos) e = s.size();
    if (e > pos) out.push_back(s.substr(pos, e - pos));
    pos = e + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      g_reps = std::atoi(argv[++i]);
      if (g_reps < 1) {
        std::fprintf(stderr, "--reps must be >= 1\n");
        return 2;
      }
    } else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      split_into(argv[++i], g_only);
    } else if (!std::strcmp(argv[i], "--list")) {
      list = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--reps N] [--only SUBSTR[,...]] [--list]\n"
                   "  --only: run only workloads whose name contains one of the substrings\n"
                   "  --list: print the workload names and units, run nothing\n",
                   argv[0]);
      return 2;
    }
  }
  if (list) {
    for (const auto& w : all_workloads())
      if (wanted(w.name)) std::printf("%s\t%s\n", w.name, w.unit);
    return 0;
  }
  std::fprintf(stderr, "# mp_bench reps=%d cpus=%d pid=%d\n", g_reps, mp::cpu_count(),
               mp::current_process().pid());
  const auto t = clock_type::now();
  bool ok = true;
  for (const auto& w : all_workloads())
    if (wanted(w.name)) ok = run(w) && ok;
  std::fprintf(stderr, "# total wall %.1fs\n", seconds_since(t));
  return ok ? 0 : 1;
}
