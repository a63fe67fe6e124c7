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
// writing its function and adding a row to kWorkloads.

#include <multiprocessing/process.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mp = multiprocessing;

namespace {

// ---------------------------------------------------------------------------
// Workload parameters (part of the definitions, docs/benchmarks.md)
// ---------------------------------------------------------------------------
constexpr int PROC_N_FORK = 2000;  // sequential Process start+join per repetition

int g_reps = 5;
std::vector<std::string> g_only;

using clock_type = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// A failed verification: the workload's value is not reported.
struct bench_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void check(bool ok, const std::string& what) {
  if (!ok) throw bench_error(what);
}

long rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

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
// The workloads, in the order they run. Later areas (queues, pool, manager)
// add their rows here, named exactly as in python_bench.py.
// ---------------------------------------------------------------------------
struct Workload {
  const char* name;
  const char* unit;
  double (*rep)();
  void (*warm_up)();  // untimed, once before the repetitions; may be null
};
void warm_up_process_start() {
  for (int i = 0; i < 3; ++i) start_join_once();
}
const Workload kWorkloads[] = {
    {"process_start_join_us_fork", "us", rep_process_start_join, warm_up_process_start},
};

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
    for (const auto& w : kWorkloads)
      if (wanted(w.name)) std::printf("%s\t%s\n", w.name, w.unit);
    return 0;
  }
  std::fprintf(stderr, "# mp_bench reps=%d cpus=%d pid=%d\n", g_reps, mp::cpu_count(),
               mp::current_process().pid());
  const auto t = clock_type::now();
  bool ok = true;
  for (const auto& w : kWorkloads)
    if (wanted(w.name)) ok = run(w) && ok;
  std::fprintf(stderr, "# total wall %.1fs\n", seconds_since(t));
  return ok ? 0 : 1;
}
