#!/usr/bin/env python3
"""Runs the three benchmark programs side by side and prints one table.

    C++     bench/mp_bench      (this library)
    Python  bench/python_bench.py (Python's multiprocessing)
    raw     bench/raw_bench     (plain POSIX calls: the ceiling)

tools/bench builds the two C++ programs and calls this script; see
docs/benchmarks.md for the workload definitions and how to read the table.

For every workload the three programs run one after the other (Python, raw,
C++), so that the three numbers of one row are measured close in time: this
VM's speed drifts (docs/benchmarks.md, "Noise"). With --rounds N the whole
sequence repeats N times and each cell is the median of the N invocation
medians.

Ratios are "how many times better C++ is", per unit: for times (us, ns, ms, s)
other/C++, for rates C++/other. Above 1 means C++ is faster.

Exit status: 0 when every program verified every workload; 1 if a program
failed or (with --check-targets) a target was missed; 2 on bad usage.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
LOWER_IS_BETTER = {"us", "ns", "ms", "s"}
LABEL = {"cpp": "C++", "python": "Python", "raw": "raw"}
TIMEOUT_S = 900  # one program invocation (one workload, all its repetitions)


@dataclass
class Target:
    against: str      # "python", "raw", or "value" (the C++ value itself)
    min_ratio: float  # C++ must be at least this many times better
    label: str


@dataclass
class Comparison:
    raw: str = None                       # name of the raw counterpart, if any
    targets: list = field(default_factory=list)


# Raw counterpart and project targets of each workload; a workload of mp_bench
# missing here is still run and shown, without raw column or target.
COMPARISONS = {
    "process_start_join_us_fork": Comparison(
        "process_start_join_us_fork",
        [Target("python", 8.0, ">=8x Python"), Target("raw", 1 / 1.5, "within 1.5x of raw")]),
    "pipe_roundtrip_us": Comparison(
        "pipe_roundtrip_us_socketpair", [Target("raw", 1 / 1.2, "within 1.2x of raw")]),
    "pipe_throughput_MBps": Comparison(
        "pipe_throughput_MBps_socketpair",
        [Target("raw", 0.8, ">=0.8x raw"), Target("python", 2.0, ">=2x Python")]),
    "lock_uncontended_ns": Comparison(
        "lock_uncontended_ns_futex", [Target("raw", 1 / 1.5, "within 1.5x of raw")]),
    "lock_contended_ops_per_s": Comparison(
        "lock_contended_ops_per_s_futex", [Target("python", 5.0, ">=5x Python")]),
    "value_increment_ops_per_s": Comparison(
        "value_increment_ops_per_s_pthread_mutex", [Target("python", 10.0, ">=10x Python")]),
    "queue_small_msgs_per_s": Comparison(
        "queue_small_msgs_per_s_pipe",
        [Target("python", 20.0, ">=20x Python"), Target("raw", 1.5, ">=1.5x raw pipe")]),
    "queue_mpmc_msgs_per_s": Comparison(
        "queue_mpmc_msgs_per_s_pipe",
        [Target("python", 10.0, ">=10x Python"), Target("raw", 1.5, ">=1.5x raw pipe")]),
    "pool_map_tasks_per_s": Comparison(None, [Target("python", 5.0, ">=5x Python")]),
    "pool_apply_async_tasks_per_s": Comparison(None, [Target("python", 20.0, ">=20x Python")]),
    "pool_map_cpu_speedup": Comparison(None, [Target("value", 1.8, ">=1.8 on 2 cores")]),
    "manager_dict_ops_per_s": Comparison(None, [Target("python", 1000.0, ">=1000x Python")]),
}


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def list_workloads(cmd):
    """[(name, unit)] that a program offers (its --list)."""
    out = subprocess.run(cmd + ["--list"], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    return [tuple(line.split("\t")[:2]) for line in out.splitlines() if "\t" in line]


@dataclass
class Run:
    value: float = None   # the invocation's median, None if it failed
    rss_kib: int = None   # parent RSS the program reported, if any
    error: str = None


def run_one(cmd, name, reps, log_path):
    """Runs one program on one workload; keeps its stdout and stderr in log_path."""
    full = cmd + ["--reps", str(reps), "--only", name]
    try:
        p = subprocess.run(full, capture_output=True, text=True, timeout=TIMEOUT_S)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or ""))
        err += f"\nTIMEOUT after {TIMEOUT_S}s\n"
        rc = None
    if log_path:
        with open(log_path, "a") as f:
            f.write(f"$ {' '.join(full)}\n{out}{err}(exit {rc})\n\n")
    run = Run()
    rss = re.findall(r"parent_rss_kib=(\d+)", err)
    if rss:
        run.rss_kib = int(rss[-1])
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == name:  # --only is a substring match
            run.value = float(parts[1])
    if rc != 0 or run.value is None:
        tail = "; ".join(l for l in err.splitlines() if not l.startswith("#"))[-300:]
        run.value = None
        run.error = f"exit {rc}: {tail or 'no result line'}"
    return run


def speed_ratio(cpp, other, unit):
    if cpp is None or other is None or cpp <= 0 or other <= 0:
        return None
    return other / cpp if unit in LOWER_IS_BETTER else cpp / other


def fmt_value(v, unit):
    if v is None:
        return "—"
    if unit in ("msg/s", "tasks/s", "ops/s"):
        return f"{v:,.0f}"
    if unit in ("MB/s", "ns"):
        return f"{v:,.1f}"
    if unit in ("us", "ms"):
        return f"{v:,.2f}"
    if unit == "s":
        return f"{v:.4f}"
    return f"{v:.3f}"


def fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def median_or_none(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def markdown_table(header, rows, right_align):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            c = str(c)
            out.append(c.rjust(widths[i]) if i in right_align else c.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right_align else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def write_plot(ratios, path):
    """A PNG bar chart of the ratios: for each workload, how many times better
    C++ is than Python and than raw (log scale; 1 = as fast). matplotlib if
    it is installed, else gnuplot; False (with the command to install one)
    if neither is."""
    ratios = [(n, p, r) for n, p, r in ratios if p is not None or r is not None]
    if not ratios:
        say(f"--plot {path}: no ratio to plot")
        return False
    title = "multiprocessing for C++: how many times better than Python / raw (log scale)"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        names = [n for n, _, _ in ratios][::-1]
        ys = range(len(names))
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
        h = 0.38
        ax.barh([y + h / 2 for y in ys], [p or 0 for _, p, _ in ratios][::-1], h,
                label="C++ / Python")
        ax.barh([y - h / 2 for y in ys], [r or 0 for _, _, r in ratios][::-1], h,
                label="C++ / raw")
        ax.set_yticks(list(ys))
        ax.set_yticklabels(names)
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        say(f"--plot: wrote {path} (matplotlib)")
        return True
    if shutil.which("gnuplot"):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "ratios.dat")
            with open(data, "w") as f:
                for n, p, r in ratios:
                    # gnuplot's log scale cannot show a missing value: NaN skips it
                    f.write(f'"{n}" {p if p else "NaN"} {r if r else "NaN"}\n')
            script = f"""
set terminal pngcairo size {max(700, 90 * len(ratios))},560 font ",9" noenhanced
set output "{path}"
set bmargin 12
set title "{title}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set xtics rotate by -35
set key top right
plot "{data}" using 2:xtic(1) title "C++ / Python", "" using 3 title "C++ / raw", 1 notitle lc rgb "black"
"""
            r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
            if r.returncode != 0 or not os.path.exists(path):
                say(f"--plot {path}: gnuplot failed: {r.stderr.strip()}")
                return False
        say(f"--plot: wrote {path} (gnuplot)")
        return True
    say(f"--plot {path}: needs matplotlib or gnuplot; install one of them: "
        "sudo apt-get install python3-matplotlib   (or: sudo apt-get install gnuplot-nox)")
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpp", required=True, help="path of mp_bench")
    ap.add_argument("--raw", required=True, help="path of raw_bench")
    ap.add_argument("--python-script", default=os.path.join(HERE, "python_bench.py"))
    ap.add_argument("--python", default=sys.executable, help="interpreter for the Python column")
    ap.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"],
                    help="start method of the Python column (default fork)")
    ap.add_argument("--reps", type=int, help="repetitions per invocation (default 5)")
    ap.add_argument("--quick", action="store_true", help="3 repetitions: a shorter, noisier run")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the interleaved py, raw, C++ sequence N times (default 1)")
    ap.add_argument("--only", default="", help="comma-separated substrings of workload names")
    ap.add_argument("--log-dir", help="keep every invocation's stdout and stderr here")
    ap.add_argument("--check-targets", action="store_true",
                    help="exit 1 if a project target is missed")
    ap.add_argument("--plot", metavar="PNG", help="also write a PNG bar chart of the ratios (matplotlib or gnuplot)")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    if reps < 1 or args.rounds < 1:
        ap.error("--reps and --rounds must be >= 1")

    cpp_cmd = [args.cpp]
    raw_cmd = [args.raw]
    py_cmd = [args.python, args.python_script, "--start-method", args.start_method]
    only = [s for s in args.only.split(",") if s]
    workloads = [(n, u) for n, u in list_workloads(cpp_cmd)
                 if not only or any(s in n for s in only)]
    if not workloads:
        say(f"no workload of {args.cpp} matches --only {args.only!r}")
        return 2
    py_names = {n for n, _ in list_workloads(py_cmd)}
    raw_names = {n for n, _ in list_workloads(raw_cmd)}

    log_path = None
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
        log_path = os.path.join(args.log_dir, "invocations.log")
        open(log_path, "w").close()

    # runs[(column, workload)] = [Run per round]
    runs = {}
    total = len(workloads) * args.rounds
    step = 0
    for rnd in range(args.rounds):
        for name, unit in workloads:
            step += 1
            raw_name = COMPARISONS.get(name, Comparison()).raw
            plan = []
            if name in py_names:
                plan.append(("python", py_cmd, name))
            if raw_name in raw_names:
                plan.append(("raw", raw_cmd, raw_name))
            plan.append(("cpp", cpp_cmd, name))
            say(f"[{step}/{total}] {name}: " + ", ".join(c for c, _, _ in plan))
            for column, cmd, n in plan:
                r = run_one(cmd, n, reps, log_path)
                if r.error:
                    say(f"  FAILED {column} {n}: {r.error}")
                runs.setdefault((column, name), []).append(r)

    header = ["workload", "unit", "C++", "Python", "raw", "C++/Python", "C++/raw", "target"]
    rows, failures, missed, rss, ratios = [], [], [], {}, []
    for name, unit in workloads:
        cell = {}
        for column in ("cpp", "python", "raw"):
            rs = runs.get((column, name), [])
            cell[column] = median_or_none([r.value for r in rs])
            failures += [f"{column} {name}: {r.error}" for r in rs if r.error]
            sizes = [r.rss_kib for r in rs if r.rss_kib]
            if sizes:
                rss[(column, name)] = max(sizes)
        vs = {"python": speed_ratio(cell["cpp"], cell["python"], unit),
              "raw": speed_ratio(cell["cpp"], cell["raw"], unit),
              "value": cell["cpp"]}  # a target on the C++ value itself (a speedup)
        ratios.append((name, vs["python"], vs["raw"]))
        verdicts = []
        for t in COMPARISONS.get(name, Comparison()).targets:
            r = vs[t.against]
            if r is None:
                verdicts.append(f"{t.label}: n/a")
            elif r >= t.min_ratio:
                verdicts.append(f"{t.label}: ok")
            else:
                verdicts.append(f"{t.label}: MISSED")
                what = "C++" if t.against == "value" else f"C++/{t.against}"
                missed.append(f"{name}: {t.label} ({what} = {r:.2f}x, "
                              f"needs >= {t.min_ratio:.2f}x)")
        raw_label = COMPARISONS.get(name, Comparison()).raw
        rows.append([name, unit, fmt_value(cell["cpp"], unit), fmt_value(cell["python"], unit),
                     fmt_value(cell["raw"], unit), fmt_ratio(vs["python"]), fmt_ratio(vs["raw"]),
                     "; ".join(verdicts) or "—"])

    load = os.getloadavg()
    print(f"# {datetime.datetime.now().isoformat(timespec='seconds')}  "
          f"{platform.node()}  Linux {platform.release()}  {os.cpu_count()} CPUs  "
          f"load {load[0]:.2f} (at end)  Python {platform.python_version()}  "
          f"start method {args.start_method}  reps {reps}  rounds {args.rounds}")
    print(markdown_table(header, rows, right_align={2, 3, 4, 5, 6}))
    print("\nRatios: how many times better C++ is than the other column (>1: C++ faster); "
          "for us/ns other/C++, for rates C++/other.")
    raw_used = [f"{n} = {COMPARISONS[n].raw}" for n, _ in workloads
                if n in COMPARISONS and COMPARISONS[n].raw in raw_names and COMPARISONS[n].raw != n]
    if raw_used:
        print("raw column: " + ", ".join(raw_used))
    for name, _ in workloads:
        sizes = [(c, rss.get((c, name))) for c in ("cpp", "python", "raw")]
        if any(s for _, s in sizes):
            print(f"parent RSS during {name}: " + ", ".join(
                f"{LABEL[c]} {s / 1024:.1f} MiB"
                for c, s in sizes if s))
    if missed:
        print("\nTargets missed:\n" + "\n".join(f"  {m}" for m in missed))
    if failures:
        print("\nFailures (no value reported):\n" + "\n".join(f"  {f}" for f in failures))
    if log_path:
        print(f"\nlogs: {log_path}")
    status = 0
    if args.plot and not write_plot(ratios, args.plot):
        status = 1
    if failures or (args.check_targets and missed):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
