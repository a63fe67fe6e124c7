#!/usr/bin/env python3
"""The "Python" column of tools/bench: the benchmark workloads done with
Python's own multiprocessing, the library this project brings to C++.

Workload definitions: docs/benchmarks.md. The code is adapted from the
project's reference baseline (python_baseline.py), keeping its constants,
gate protocol and verification; the names are exactly those of the C++
benchmark (bench/mp_bench.cpp) so that tools/bench can put them side by side.
Standard library only.

stdout: one line per workload, name<TAB>value<TAB>unit (median of --reps).
stderr: the individual repetition values and the wall time of each workload.
Exits 1 if any verification fails.

Usage:
    python3 bench/python_bench.py [--start-method fork|spawn|forkserver]
                                  [--reps N] [--only SUBSTR[,SUBSTR...]] [--list]
"""
import multiprocessing as mp
import os
import sys
import time

# NB: module-level imports stay minimal: under spawn/forkserver every child
# re-imports this file as __mp_main__. argparse is imported in main().

perf = time.perf_counter

# ---------------------------------------------------------------------------
# Workload parameters (part of the definitions, docs/benchmarks.md)
# ---------------------------------------------------------------------------
PROC_N = {"fork": 200, "forkserver": 50, "spawn": 10}  # processes per repetition
RT_WARM = 200            # untimed warm-up round trips
RT_N = 10_000            # timed round trips
TPUT_MSG = 1 << 20       # 1 MiB message
TPUT_N = 512             # messages per repetition (512 MiB)
Q_N = 200_000            # messages per repetition (queue workloads)
MAP_N = 1_000_000        # Pool.map input length
APPLY_N = 20_000         # apply_async calls
CPU_ARG = 200_000        # cpu_task argument
CPU_TASKS = 64           # cpu tasks per map
LOCK_N = 1_000_000       # uncontended acquire/release pairs
CONT_N = 100_000         # per process, lock_contended / value_increment
MGR_N = 20_000           # Manager dict: MGR_N sets, then MGR_N gets
N_POOL = 2               # Pool size


def median(vals):
    v = sorted(vals)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


def check(cond, msg):
    if not cond:
        raise BenchError(msg)


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


# ---------------------------------------------------------------------------
# Child side. Targets are module level so that spawn/forkserver can pickle them.
# ---------------------------------------------------------------------------
class Gate:
    """The gate: each child releases `ready`, then blocks on `start`; the
    parent waits for every `ready`, takes t0, sets `start`, and takes t1 once
    it has read the expected number of `results`."""

    def __init__(self, ctx):
        self.ready = ctx.Semaphore(0)
        self.start = ctx.Event()
        self.results = ctx.SimpleQueue()


def _wait_start(gate):
    gate.ready.release()
    gate.start.wait()


def run_gated(ctx, targets, nresults):
    """targets: list of (function, args). Returns (elapsed_s, results)."""
    gate = Gate(ctx)
    procs = [ctx.Process(target=f, args=(gate,) + tuple(a)) for f, a in targets]
    for p in procs:
        p.start()
    for _ in procs:
        gate.ready.acquire()
    t0 = perf()
    gate.start.set()
    res = [gate.results.get() for _ in range(nresults)]
    t1 = perf()
    for p in procs:
        p.join()
        check(p.exitcode == 0, f"child exit code {p.exitcode}")
    return t1 - t0, res


def _noop():
    pass


def _echo_bytes(conn, n):
    rb, sb = conn.recv_bytes, conn.send_bytes
    for _ in range(n):
        sb(rb())
    conn.close()


def _sink(conn, ack, n, size):
    rb = conn.recv_bytes
    ack.send_bytes(b"r")
    bad = 0
    for i in range(n):
        m = rb()
        if len(m) != size or m[0] != (i & 0xFF) or m[-1] != (i & 0xFF):
            bad += 1
    ack.send_bytes(b"ok" if bad == 0 else b"bad")


def _q_prod(gate, q, lo, hi, sentinel):
    _wait_start(gate)
    put = q.put
    for i in range(lo, hi):
        put(i)
    if sentinel:
        put(None)


def _q_cons_ordered(gate, q, n):
    _wait_start(gate)
    get = q.get
    bad = 0
    for i in range(n):
        if get() != i:
            bad += 1
    gate.results.put((n, bad))


def _q_cons_until_sentinel(gate, q):
    _wait_start(gate)
    get = q.get
    cnt = 0
    s = 0
    while True:
        v = get()
        if v is None:
            break
        cnt += 1
        s += v
    gate.results.put((cnt, s))


def _square(x):
    return x * x


def _cpu_task(n):
    return sum(i * i for i in range(n))


def _pid_sleep(_):
    time.sleep(0.05)
    return os.getpid()


def _lock_worker(gate, lock, counter, n):
    _wait_start(gate)
    acq, rel = lock.acquire, lock.release
    for _ in range(n):
        acq()
        counter.value += 1
        rel()
    gate.results.put(n)


def _value_worker(gate, v, n):
    _wait_start(gate)
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    gate.results.put(n)


def _mgr_worker(gate, d, n):
    _wait_start(gate)
    for i in range(n):
        d[i] = i
    s = 0
    for i in range(n):
        s += d[i]
    gate.results.put(s)


# ---------------------------------------------------------------------------
# One repetition of each workload (parent side); each returns one float.
# ---------------------------------------------------------------------------
def rep_process_start_join(ctx, n):
    t0 = perf()
    for _ in range(n):
        p = ctx.Process(target=_noop)
        p.start()
        p.join()
        check(p.exitcode == 0, f"exit code {p.exitcode}")
    us = (perf() - t0) / n * 1e6
    if n > 1:                                 # not for the warm-up
        log(f"#   parent_rss_kib={rss_kib()}")
    return us


def rep_pipe_roundtrip(ctx):
    a, b = ctx.Pipe(duplex=True)
    p = ctx.Process(target=_echo_bytes, args=(b, RT_WARM + RT_N))
    p.start()
    b.close()
    s, r = a.send_bytes, a.recv_bytes
    msg = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    for _ in range(RT_WARM):
        s(msg)
        r()
    t0 = perf()
    for _ in range(RT_N):
        s(msg)
        if r() != msg:
            raise BenchError("bad echo")
    dt = perf() - t0
    p.join()
    check(p.exitcode == 0, "echo child failed")
    a.close()
    return dt / RT_N * 1e6


def rep_pipe_tput(ctx):
    r, w = ctx.Pipe(duplex=True)
    ack_r, ack_w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_sink, args=(r, ack_w, TPUT_N, TPUT_MSG))
    p.start()
    r.close()
    ack_w.close()
    check(ack_r.recv_bytes() == b"r", "sink not ready")
    buf = bytearray(TPUT_MSG)
    sb = w.send_bytes
    t0 = perf()
    for i in range(TPUT_N):
        buf[0] = buf[-1] = i & 0xFF
        sb(buf)
    ok = ack_r.recv_bytes()
    dt = perf() - t0
    check(ok == b"ok", "sink saw corrupted/short messages")
    p.join()
    w.close()
    ack_r.close()
    return TPUT_N * TPUT_MSG / dt / 1e6


def rep_queue_spsc(ctx):
    q = ctx.Queue()
    dt, res = run_gated(ctx, [(_q_prod, (q, 0, Q_N, False)),
                              (_q_cons_ordered, (q, Q_N))], 1)
    n, bad = res[0]
    check(n == Q_N and bad == 0, f"spsc: received {n}, out-of-order/wrong {bad}")
    return Q_N / dt


def rep_queue_mpmc(ctx):
    q = ctx.Queue()
    half = Q_N // 2
    dt, res = run_gated(ctx, [(_q_prod, (q, 0, half, True)),
                              (_q_prod, (q, half, Q_N, True)),
                              (_q_cons_until_sentinel, (q,)),
                              (_q_cons_until_sentinel, (q,))], 2)
    cnt = sum(c for c, _ in res)
    s = sum(x for _, x in res)
    check(cnt == Q_N and s == Q_N * (Q_N - 1) // 2, f"mpmc: received {cnt} msgs, sum {s}")
    return Q_N / dt


def make_pool(ctx):
    """Pool(2) whose two workers are both verified to be running."""
    pool = ctx.Pool(N_POOL)
    for _ in range(50):
        if len(set(pool.map(_pid_sleep, range(N_POOL), chunksize=1))) == N_POOL:
            return pool
    raise BenchError("pool warm-up failed")


def close_pool(pool):
    pool.close()
    pool.join()


def rep_pool_map(ctx):
    pool = make_pool(ctx)
    t0 = perf()
    r = pool.map(_square, range(MAP_N))
    dt = perf() - t0
    close_pool(pool)
    check(len(r) == MAP_N and sum(r) == (MAP_N - 1) * MAP_N * (2 * MAP_N - 1) // 6,
          "pool.map result wrong")
    return MAP_N / dt


def rep_pool_apply_async(ctx):
    pool = make_pool(ctx)
    t0 = perf()
    ars = [pool.apply_async(_square, (i,)) for i in range(APPLY_N)]
    out = [a.get() for a in ars]
    dt = perf() - t0
    close_pool(pool)
    check(out == [i * i for i in range(APPLY_N)], "apply_async results wrong")
    return APPLY_N / dt


def rep_pool_cpu(ctx):
    """Returns (speedup, serial_s, parallel_s)."""
    pool = make_pool(ctx)
    t0 = perf()
    serial = [_cpu_task(CPU_ARG) for _ in range(CPU_TASKS)]
    t1 = perf()
    par = pool.map(_cpu_task, [CPU_ARG] * CPU_TASKS)
    t2 = perf()
    close_pool(pool)
    check(serial == par and serial[0] == (CPU_ARG - 1) * CPU_ARG * (2 * CPU_ARG - 1) // 6,
          "cpu results differ")
    return (t1 - t0) / (t2 - t1), t1 - t0, t2 - t1


def rep_lock_uncontended(ctx):
    lock = ctx.Lock()
    acq, rel = lock.acquire, lock.release
    t0 = perf()
    for _ in range(LOCK_N):
        acq()
        rel()
    dt = perf() - t0
    return dt / LOCK_N * 1e9


def rep_lock_contended(ctx):
    lock = ctx.Lock()
    counter = ctx.Value("q", 0, lock=False)        # RawValue(c_int64)
    dt, res = run_gated(ctx, [(_lock_worker, (lock, counter, CONT_N))] * 2, 2)
    check(sum(res) == 2 * CONT_N and counter.value == 2 * CONT_N,
          f"lock_contended: final count {counter.value} != {2 * CONT_N}")
    return 2 * CONT_N / dt


def rep_value_increment(ctx):
    v = ctx.Value("q", 0)                            # Synchronized, RLock
    dt, res = run_gated(ctx, [(_value_worker, (v, CONT_N))] * 2, 2)
    check(sum(res) == 2 * CONT_N and v.value == 2 * CONT_N,
          f"value_increment: final count {v.value} != {2 * CONT_N}")
    return 2 * CONT_N / dt


def rep_manager_dict(ctx):
    m = ctx.Manager()
    try:
        d = m.dict()
        dt, res = run_gated(ctx, [(_mgr_worker, (d, MGR_N))], 1)
        check(res[0] == MGR_N * (MGR_N - 1) // 2 and len(d) == MGR_N,
              "manager dict contents wrong")
    finally:
        m.shutdown()
    return 2 * MGR_N / dt


# ---------------------------------------------------------------------------
# The workloads, in the order they run: (name, unit, rep(ctx)). A rep that
# returns a tuple reports several names at once (see MULTI).
# ---------------------------------------------------------------------------
def workloads(method):
    return [
        (f"process_start_join_us_{method}", "us",
         lambda ctx: rep_process_start_join(ctx, PROC_N[method])),
        ("pipe_roundtrip_us", "us", rep_pipe_roundtrip),
        ("pipe_throughput_MBps", "MB/s", rep_pipe_tput),
        ("queue_small_msgs_per_s", "msg/s", rep_queue_spsc),
        ("queue_mpmc_msgs_per_s", "msg/s", rep_queue_mpmc),
        ("pool_map_tasks_per_s", "tasks/s", rep_pool_map),
        ("pool_apply_async_tasks_per_s", "tasks/s", rep_pool_apply_async),
        ("pool_map_cpu_speedup", "x", rep_pool_cpu),
        ("lock_uncontended_ns", "ns", rep_lock_uncontended),
        ("lock_contended_ops_per_s", "ops/s", rep_lock_contended),
        ("manager_dict_ops_per_s", "ops/s", rep_manager_dict),
        ("value_increment_ops_per_s", "ops/s", rep_value_increment),
    ]


# Workloads whose repetition returns a tuple: the extra names and units.
MULTI = {"pool_map_cpu_speedup": [("pool_map_cpu_serial_s", "s"),
                                  ("pool_map_cpu_parallel_s", "s")]}


def fmt(v, unit):
    if unit in ("msg/s", "tasks/s", "ops/s"):
        return f"{v:.0f}"
    if unit in ("MB/s", "ns"):
        return f"{v:.1f}"
    if unit in ("us", "ms"):
        return f"{v:.2f}"
    if unit == "s":
        return f"{v:.4f}"
    return f"{v:.3f}"


def emit(name, vals, unit, wall):
    print(f"{name}\t{fmt(median(vals), unit)}\t{unit}", flush=True)
    log(f"# {name}: reps=[{', '.join(fmt(v, unit) for v in vals)}] wall={wall:.2f}s")


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="",
                    help="comma-separated substrings; run only matching workloads")
    ap.add_argument("--list", action="store_true",
                    help="print the workload names and units, run nothing")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    only = [s for s in args.only.split(",") if s]
    method = args.start_method
    ctx = mp.get_context(method)

    def wanted(name):
        return not only or any(s in name for s in only)

    table = [w for w in workloads(method) if wanted(w[0])]
    if args.list:
        for name, unit, _ in table:
            print(f"{name}\t{unit}")
            for extra, eunit in MULTI.get(name, []):
                print(f"{extra}\t{eunit}")
        return 0

    log(f"# python_bench {sys.version.split()[0]} start_method={method} reps={args.reps} "
        f"cpus={os.cpu_count()} pid={os.getpid()}")
    t_all = perf()
    try:
        for name, unit, rep in table:
            if name.startswith("process_start_join_us_"):
                for _ in range(3):           # warm-up (starts the fork server)
                    rep_process_start_join(ctx, 1)
            t = perf()
            vals = [rep(ctx) for _ in range(args.reps)]
            wall = perf() - t
            if name in MULTI:
                emit(name, [v[0] for v in vals], unit, wall)
                for i, (extra, eunit) in enumerate(MULTI[name], start=1):
                    emit(extra, [v[i] for v in vals], eunit, wall)
            else:
                emit(name, vals, unit, wall)
    except BenchError as e:
        log(f"ERROR: {e}")
        return 1
    log(f"# total wall {perf() - t_all:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
