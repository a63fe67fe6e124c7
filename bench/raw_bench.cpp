// raw_bench.cpp -- the "raw" column of tools/bench: each workload done with
// the most direct OS mechanism (fork, socketpair, futex, pthread mutex), no
// library. It is the ceiling a perfect implementation could reach on this
// machine. Workload definitions: docs/benchmarks.md. The code is adapted from
// the project's reference baseline (raw_limits.cpp), keeping its constants,
// gate protocol and verification; only the variants that tools/bench compares
// are here.
//
//   raw_bench [--reps N] [--only SUBSTR[,SUBSTR...]] [--list]
//
// stdout: one line per workload, name<TAB>value<TAB>unit (median of --reps,
// default 5). stderr: per-repetition values and wall time. Exits 1 if any
// verification fails.
//
// Deliberately plain POSIX + Linux futex: it must not share code (or bugs)
// with the library it is the yardstick for.

#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// Workload parameters (part of the definitions, docs/benchmarks.md)
// ---------------------------------------------------------------------------
constexpr int PROC_N_FORK = 2000;      // fork()+_exit+waitpid per repetition
constexpr int RT_WARM = 200;           // untimed warm-up round trips
constexpr int RT_N = 10000;            // timed round trips
constexpr size_t TPUT_MSG = 1u << 20;  // 1 MiB
constexpr int TPUT_N = 512;            // messages per repetition
constexpr long LOCK_N = 5000000;       // uncontended lock/unlock pairs
constexpr long CONT_N = 100000;        // per process (lock_contended, value_increment)
constexpr int64_t Q_N = 200000;        // messages per repetition (queue workloads)

int g_reps = 5;
std::vector<std::string> g_only;

// ---------------------------------------------------------------------------
// Utilities
// ---------------------------------------------------------------------------
[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "ERROR (pid %d): ", static_cast<int>(getpid()));
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  _exit(1);  // never flush stdio buffers inherited over fork
}
#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (__builtin_expect(!(cond), 0)) die(__VA_ARGS__);   \
  } while (0)
#define SYSCHK(expr)                                                                      \
  do {                                                                                    \
    if ((expr) < 0) die("%s failed: %s (line %d)", #expr, std::strerror(errno), __LINE__); \
  } while (0)

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
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

// Shared memory that survives fork (MAP_SHARED|MAP_ANONYMOUS), pre-faulted.
void* shm_alloc(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap: %s", std::strerror(errno));
  std::memset(p, 0, n);
  return p;
}
void shm_free(void* p, size_t n) { munmap(p, n); }

void write_all(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("write: %s", std::strerror(errno));
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
}
void read_all(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read: %s", std::strerror(errno));
    }
    CHECK(r != 0, "read: unexpected EOF");
    p += r;
    n -= static_cast<size_t>(r);
  }
}
void write_exact_once(int fd, const void* buf, size_t n) {
  ssize_t r;
  do {
    r = write(fd, buf, n);
  } while (r < 0 && errno == EINTR);
  CHECK(r == static_cast<ssize_t>(n), "write returned %zd, expected %zu", r, n);
}

template <class F>
pid_t fork_child(F&& f) {
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %s", std::strerror(errno));
  if (pid == 0) {
    f();
    _exit(0);
  }
  return pid;
}
void wait_ok(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0) CHECK(errno == EINTR, "waitpid: %s", std::strerror(errno));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed (status 0x%x)", static_cast<int>(pid),
        st);
}

long futex_call(void* addr, int op, uint32_t val) {
  // No FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, nullptr, nullptr, 0);
}

// The gate (docs/benchmarks.md): children write one byte to `ready` and
// block reading one byte from `start`; the parent waits for all ready bytes,
// takes t0, writes the start bytes, and takes t1 after reading the expected
// number of fixed-size results from `done`.
struct Gate {
  int ready[2], start[2], done[2];
  Gate() {
    SYSCHK(pipe(ready));
    SYSCHK(pipe(start));
    SYSCHK(pipe(done));
  }
  ~Gate() {
    for (int fd : {ready[0], ready[1], start[0], start[1], done[0], done[1]}) close(fd);
  }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  void child_wait() {
    char c = 'r';
    write_all(ready[1], &c, 1);
    read_all(start[0], &c, 1);
  }
  template <class T>
  void child_done(const T& r) {
    static_assert(sizeof(T) <= PIPE_BUF, "atomic result");
    write_exact_once(done[1], &r, sizeof r);
  }
  void parent_wait_ready(int k) {
    char buf[64];
    read_all(ready[0], buf, static_cast<size_t>(k));
  }
  void parent_start(int k) {
    char buf[64] = {};
    write_all(start[1], buf, static_cast<size_t>(k));
  }
  template <class T>
  T parent_result() {
    T r;
    read_all(done[0], &r, sizeof r);
    return r;
  }
};

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------
bool wanted(const char* name) {
  if (g_only.empty()) return true;
  for (auto& s : g_only)
    if (std::strstr(name, s.c_str())) return true;
  return false;
}
std::string fmt(double v, const std::string& u) {
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
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// ---------------------------------------------------------------------------
// Synchronisation primitives in shared memory
// ---------------------------------------------------------------------------
// Drepper, "Futexes Are Tricky", mutex #3. 0 = free, 1 = locked, 2 = locked+waiters.
struct FutexLock {
  std::atomic<uint32_t> state{0};
  void lock() {
    uint32_t c = 0;
    if (state.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = state.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      futex_call(&state, FUTEX_WAIT, 2);  // EAGAIN/EINTR: re-check
      c = state.exchange(2, std::memory_order_acquire);
    }
  }
  void unlock() {
    if (state.fetch_sub(1, std::memory_order_release) != 1) {
      state.store(0, std::memory_order_release);
      futex_call(&state, FUTEX_WAKE, 1);
    }
  }
};

void init_pshared_mutex(pthread_mutex_t* m) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  CHECK(pthread_mutex_init(m, &a) == 0, "pthread_mutex_init");
  pthread_mutexattr_destroy(&a);
}

// ---------------------------------------------------------------------------
// 1. process_start_join_us_fork: fork + _exit(0) + waitpid, sequential
// ---------------------------------------------------------------------------
double rep_fork() {
  double t0 = now_s();
  for (int i = 0; i < PROC_N_FORK; ++i) {
    pid_t p = fork();
    CHECK(p >= 0, "fork: %s", std::strerror(errno));
    if (p == 0) _exit(0);
    wait_ok(p);
  }
  double us = (now_s() - t0) / PROC_N_FORK * 1e6;
  std::fprintf(stderr, "#   parent_rss_kib=%ld\n", rss_kib());
  return us;
}

// ---------------------------------------------------------------------------
// 2. pipe_roundtrip_us_socketpair: int64 counter echoed parent -> child -> parent
// ---------------------------------------------------------------------------
double rep_roundtrip_socketpair() {
  int sv[2];
  SYSCHK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  pid_t pid = fork_child([&] {
    close(sv[0]);
    int64_t v;
    for (int i = 0; i < RT_WARM + RT_N; ++i) {
      read_all(sv[1], &v, 8);
      write_all(sv[1], &v, 8);
    }
  });
  close(sv[1]);
  int64_t v;
  for (int64_t i = 0; i < RT_WARM; ++i) {
    write_all(sv[0], &i, 8);
    read_all(sv[0], &v, 8);
  }
  double t0 = now_s();
  for (int64_t i = 0; i < RT_N; ++i) {
    write_all(sv[0], &i, 8);
    read_all(sv[0], &v, 8);
    CHECK(v == i, "bad echo");
  }
  double dt = now_s() - t0;
  wait_ok(pid);
  close(sv[0]);
  return dt / RT_N * 1e6;
}

// ---------------------------------------------------------------------------
// 3. pipe_throughput_MBps_socketpair: 512 x 1 MiB parent -> child, gated
// ---------------------------------------------------------------------------
inline void stamp(char* buf, int64_t i) {
  std::memcpy(buf, &i, 8);
  std::memcpy(buf + TPUT_MSG - 8, &i, 8);
}
inline bool stamped(const char* buf, int64_t i) {
  int64_t a, b;
  std::memcpy(&a, buf, 8);
  std::memcpy(&b, buf + TPUT_MSG - 8, 8);
  return a == i && b == i;
}
double rep_tput_socketpair() {
  int sv[2];
  SYSCHK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  const int rfd = sv[1], wfd = sv[0];
  Gate g;
  pid_t pid = fork_child([&] {
    close(wfd);
    std::vector<char> buf(TPUT_MSG);
    g.child_wait();
    int64_t bad = 0;
    for (int64_t i = 0; i < TPUT_N; ++i) {
      read_all(rfd, buf.data(), TPUT_MSG);
      if (!stamped(buf.data(), i)) ++bad;
    }
    g.child_done(bad);
  });
  close(rfd);
  std::vector<char> buf(TPUT_MSG, 'x');
  g.parent_wait_ready(1);
  double t0 = now_s();
  g.parent_start(1);
  for (int64_t i = 0; i < TPUT_N; ++i) {
    stamp(buf.data(), i);
    write_all(wfd, buf.data(), TPUT_MSG);
  }
  int64_t bad = g.parent_result<int64_t>();
  double dt = now_s() - t0;
  CHECK(bad == 0, "throughput: %" PRId64 " corrupted messages", bad);
  wait_ok(pid);
  close(wfd);
  return static_cast<double>(TPUT_N) * TPUT_MSG / dt / 1e6;
}

// ---------------------------------------------------------------------------
// 7. lock_uncontended_ns_futex   8. lock_contended_ops_per_s_futex
// 10. value_increment_ops_per_s_pthread_mutex
// ---------------------------------------------------------------------------
struct LockShm {
  alignas(64) pthread_mutex_t mutex;
  alignas(64) FutexLock futex;
  alignas(64) volatile int64_t counter;
};
enum LockKind { K_PTHREAD, K_FUTEX };
LockShm* new_lock_shm() {
  auto* s = static_cast<LockShm*>(shm_alloc(sizeof(LockShm)));
  init_pshared_mutex(&s->mutex);
  new (&s->futex) FutexLock();
  s->counter = 0;
  return s;
}
void free_lock_shm(LockShm* s) {
  pthread_mutex_destroy(&s->mutex);
  shm_free(s, sizeof(LockShm));
}
template <LockKind K>
inline void do_lock(LockShm* s) {
  if constexpr (K == K_PTHREAD)
    CHECK(pthread_mutex_lock(&s->mutex) == 0, "lock");
  else
    s->futex.lock();
}
template <LockKind K>
inline void do_unlock(LockShm* s) {
  if constexpr (K == K_PTHREAD)
    CHECK(pthread_mutex_unlock(&s->mutex) == 0, "unlock");
  else
    s->futex.unlock();
}
template <LockKind K>
double rep_lock_uncontended() {
  LockShm* s = new_lock_shm();
  double t0 = now_s();
  for (long i = 0; i < LOCK_N; ++i) {
    do_lock<K>(s);
    do_unlock<K>(s);
  }
  double dt = now_s() - t0;
  free_lock_shm(s);
  return dt / LOCK_N * 1e9;
}
// Two gated processes x CONT_N locked increments of a shared counter.
template <LockKind K>
double rep_contended() {
  LockShm* s = new_lock_shm();
  Gate g;
  std::vector<pid_t> pids;
  for (int w = 0; w < 2; ++w)
    pids.push_back(fork_child([&] {
      g.child_wait();
      for (long i = 0; i < CONT_N; ++i) {
        do_lock<K>(s);
        s->counter = s->counter + 1;
        do_unlock<K>(s);
      }
      g.child_done(static_cast<int64_t>(CONT_N));
    }));
  g.parent_wait_ready(2);
  double t0 = now_s();
  g.parent_start(2);
  int64_t n = g.parent_result<int64_t>() + g.parent_result<int64_t>();
  double dt = now_s() - t0;
  for (pid_t p : pids) wait_ok(p);
  int64_t final_count = s->counter;
  CHECK(n == 2 * CONT_N && final_count == 2 * CONT_N, "contended: final count %" PRId64 " != %ld",
        final_count, 2 * CONT_N);
  free_lock_shm(s);
  return 2 * CONT_N / dt;
}

// ---------------------------------------------------------------------------
// 4. queue_small_msgs_per_s_pipe: one 8-byte write() and one 8-byte read() per
//    message, 1 producer -> 1 consumer; the consumer reports out-of-order ones
// 5. queue_mpmc_msgs_per_s_pipe: 2 producers x 2 consumers on one pipe;
//    producer i sends [i*N/2, (i+1)*N/2) then -1; a consumer stops at its first
//    -1 and reports {count, sum}
// ---------------------------------------------------------------------------
struct CountSum {
  int64_t count, sum;
};

double rep_queue_spsc_pipe() {
  int p[2];
  SYSCHK(pipe(p));
  Gate g;
  pid_t prod = fork_child([&] {
    close(p[0]);
    g.child_wait();
    for (int64_t i = 0; i < Q_N; ++i) write_exact_once(p[1], &i, 8);
  });
  pid_t cons = fork_child([&] {
    close(p[1]);
    g.child_wait();
    int64_t bad = 0, v;
    for (int64_t i = 0; i < Q_N; ++i) {
      read_all(p[0], &v, 8);
      bad += (v != i);
    }
    g.child_done(CountSum{Q_N, bad});
  });
  close(p[0]);
  close(p[1]);
  g.parent_wait_ready(2);
  double t0 = now_s();
  g.parent_start(2);
  auto r = g.parent_result<CountSum>();
  double dt = now_s() - t0;
  wait_ok(prod);
  wait_ok(cons);
  CHECK(r.count == Q_N && r.sum == 0, "spsc pipe: %" PRId64 " wrong or out-of-order messages", r.sum);
  return Q_N / dt;
}

double rep_queue_mpmc_pipe() {
  int p[2];
  SYSCHK(pipe(p));
  Gate g;
  const int64_t half = Q_N / 2;
  std::vector<pid_t> kids;
  for (int id = 0; id < 2; ++id)
    kids.push_back(fork_child([&, id] {
      close(p[0]);
      g.child_wait();
      for (int64_t i = id * half; i < (id + 1) * half; ++i) write_exact_once(p[1], &i, 8);
      int64_t end = -1;
      write_exact_once(p[1], &end, 8);
    }));
  for (int id = 0; id < 2; ++id)
    kids.push_back(fork_child([&] {
      close(p[1]);
      g.child_wait();
      CountSum r{0, 0};
      for (;;) {
        int64_t v;
        read_all(p[0], &v, 8);
        if (v < 0) break;
        ++r.count;
        r.sum += v;
      }
      g.child_done(r);
    }));
  close(p[0]);
  close(p[1]);
  g.parent_wait_ready(4);
  double t0 = now_s();
  g.parent_start(4);
  auto a = g.parent_result<CountSum>();
  auto b = g.parent_result<CountSum>();
  double dt = now_s() - t0;
  for (pid_t k : kids) wait_ok(k);
  CHECK(a.count + b.count == Q_N && a.sum + b.sum == Q_N * (Q_N - 1) / 2,
        "mpmc pipe: got %" PRId64 " messages", a.count + b.count);
  return Q_N / dt;
}

// ---------------------------------------------------------------------------
// The workloads, in the order they run. Later areas (queues, pool, manager)
// add their raw variants here.
// ---------------------------------------------------------------------------
struct Workload {
  const char* name;
  const char* unit;
  double (*rep)();
};
const Workload kWorkloads[] = {
    {"process_start_join_us_fork", "us", rep_fork},
    {"pipe_roundtrip_us_socketpair", "us", rep_roundtrip_socketpair},
    {"pipe_throughput_MBps_socketpair", "MB/s", rep_tput_socketpair},
    {"lock_uncontended_ns_futex", "ns", rep_lock_uncontended<K_FUTEX>},
    {"lock_contended_ops_per_s_futex", "ops/s", rep_contended<K_FUTEX>},
    {"value_increment_ops_per_s_pthread_mutex", "ops/s", rep_contended<K_PTHREAD>},
    {"queue_small_msgs_per_s_pipe", "msg/s", rep_queue_spsc_pipe},
    {"queue_mpmc_msgs_per_s_pipe", "msg/s", rep_queue_mpmc_pipe},
};

void run(const Workload& w) {
  double t = now_s();
  std::vector<double> vals;
  for (int i = 0; i < g_reps; ++i) vals.push_back(w.rep());
  std::printf("%s\t%s\t%s\n", w.name, fmt(median(vals), w.unit).c_str(), w.unit);
  std::fflush(stdout);
  std::string s;
  for (size_t i = 0; i < vals.size(); ++i) s += (i ? ", " : "") + fmt(vals[i], w.unit);
  std::fprintf(stderr, "# %s: reps=[%s] wall=%.2fs\n", w.name, s.c_str(), now_s() - t);
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
      CHECK(g_reps >= 1, "--reps must be >= 1");
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
  std::fprintf(stderr, "# raw_bench reps=%d cpus=%ld pid=%d\n", g_reps, sysconf(_SC_NPROCESSORS_ONLN),
               static_cast<int>(getpid()));
  double t = now_s();
  for (const auto& w : kWorkloads)
    if (wanted(w.name)) run(w);
  std::fprintf(stderr, "# total wall %.1fs\n", now_s() - t);
  return 0;
}
