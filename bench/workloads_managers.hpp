#pragma once
// Managers' workloads for mp_bench (definitions: docs/benchmarks.md, and
// bench/python_bench.py's rep_manager_dict, which this mirrors).
//
// manager_dict_ops_per_s: a fresh Manager and dict per repetition (untimed);
// one gated child runs `d[i] = i` for i < 20,000, then `s += d[i]`, and
// reports s. Checks s and len(d). Value = 40,000 / t.

#include <multiprocessing/managers.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "mp_bench_support.hpp"

namespace mp_bench {

inline constexpr std::int64_t MGR_N = 20000;  // sets, then as many gets

inline double rep_manager_dict() {
  mp::Manager m;
  auto d = m.dict<std::int64_t, std::int64_t>();
  gate g;
  auto [dt, res] = g.run(1, [d](gate& g) {
    g.child_wait();
    for (std::int64_t i = 0; i < MGR_N; ++i) d[i] = i;
    std::int64_t s = 0;
    for (std::int64_t i = 0; i < MGR_N; ++i) s += d[i];
    g.child_done(s);
  });
  check(res[0] == MGR_N * (MGR_N - 1) / 2 && d.size() == static_cast<std::size_t>(MGR_N),
        "manager dict contents wrong: sum " + std::to_string(res[0]) + ", size " +
            std::to_string(d.size()));
  m.shutdown();
  return 2.0 * MGR_N / dt;
}

inline void add_managers_workloads(std::vector<Workload>& w) {
  w.push_back({"manager_dict_ops_per_s", "ops/s", rep_manager_dict, nullptr});
}

}  // namespace mp_bench
