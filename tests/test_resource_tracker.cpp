// The resource tracker: whatever way the processes of a program tree end
// (SIGKILL of a child or of the main process, normal exit without unlink,
// an uncaught exception), its shared-memory names leave /dev/shm once the
// whole tree is gone, and no tracker or zombie is left behind.
//
// Each scenario runs in a forked "sub-main" that drops the test process's own
// tracker connection and starts a tracker of its own, standing in for the
// main process of a program. Children never assert: they report over a pipe
// and end with _exit.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <multiprocessing/detail/arena.hpp>
#include <multiprocessing/detail/resource_tracker.hpp>
#include <multiprocessing/shared_memory.hpp>

#include "catch.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
namespace shm = multiprocessing::shared_memory;
namespace detail = multiprocessing::detail;

detail::resource_tracker& tracker() { return detail::resource_tracker::instance(); }

/// Forks; the child runs body() and _exits with its result (98 if it threw).
template <class F>
pid_t fork_run(F&& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Catch2's fatal-signal handlers would report a child's death as a test failure.
    for (int sig : {SIGINT, SIGILL, SIGFPE, SIGSEGV, SIGTERM, SIGABRT}) ::signal(sig, SIG_DFL);
    int code = 98;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

/// Exit code, 128 + signal, or -1 after `timeout` (the child is then killed).
int wait_exit(pid_t pid, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -2;
    if (steady::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
}

/// A sub-main the test waits for; killed and reaped if a failed REQUIRE leaves it running.
struct submain {
  pid_t pid;
  bool reaped = false;
  int wait(std::chrono::milliseconds timeout = 30s) {
    reaped = true;
    return wait_exit(pid, timeout);
  }
  ~submain() {
    if (!reaped && pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

template <class P>
bool wait_until(P predicate, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    if (predicate()) return true;
    if (steady::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

bool shm_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

/// A process's state letter and parent from /proc/<pid>/stat; state 0 if it is gone.
struct proc_info {
  char state = 0;
  pid_t ppid = 0;
};
proc_info proc(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return {};
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 4 > text.size()) return {};
  proc_info info;
  info.state = text[close + 2];
  info.ppid = static_cast<pid_t>(std::atol(text.c_str() + close + 4));
  return info;
}

/// Exited: gone, or a zombie waiting for init (which reaps orphans lazily here).
bool exited(pid_t pid) {
  const proc_info p = proc(pid);
  return p.state == 0 || p.state == 'Z';
}

std::vector<pid_t> zombie_children() {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    const proc_info p = proc(pid);
    if (p.state == 'Z' && p.ppid == ::getpid()) found.push_back(pid);
  }
  return found;
}

void say(int fd, const std::string& line) {
  const std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
}

/// Reads lines a child writes to a pipe, each wait bounded.
class line_reader {
 public:
  explicit line_reader(int fd) : fd_(fd) {}
  std::optional<std::string> next(std::chrono::milliseconds timeout = 20s) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// The next line, which must start with `key` and a space; returns the rest.
  std::string expect(const std::string& key) {
    auto line = next();
    if (!line) return "<no line for " + key + ">";
    if (line->rfind(key + " ", 0) != 0) return "<unexpected: " + *line + ">";
    return line->substr(key.size() + 1);
  }

 private:
  int fd_;
  std::string buf_;
};

struct pipe_pair {
  int read = -1, write = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    read = fds[0];
    write = fds[1];
  }
  ~pipe_pair() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
};

/// A temporary file that a sub-main makes its stderr, so that the tracker's
/// warnings (the tracker inherits it) can be read afterwards.
struct stderr_file {
  std::string path;
  stderr_file() {
    char tmpl[] = "/tmp/mp_tracker_stderr_XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp");
    ::close(fd);
    path = tmpl;
  }
  ~stderr_file() { ::unlink(path.c_str()); }
  /// In the sub-main, before its tracker starts.
  void redirect() const {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
  }
  std::string contents() const {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

/// The sub-main's first steps: its own tracker, warnings to `err`.
int begin_submain(const stderr_file& err, int report) {
  err.redirect();
  tracker().detach();
  tracker().ensure_running();
  say(report, "tracker " + std::to_string(tracker().pid()));
  return 0;
}

/// Waits (bounded) for a line on a control pipe; then the caller goes on.
void await_go(int control) {
  line_reader r(control);
  (void)r.next(30s);
}

/// Names of one SharedMemory and one library object (shared_ref) created here.
std::string create_two(std::optional<shm::SharedMemory>& block,
                       detail::shared_ref<int>& object) {
  block.emplace(std::nullopt, true, 4096);
  block->buf()[0] = std::byte{7};
  object = detail::shared_ref<int>::make(0, 42);
  return block->name() + " " + object.name().substr(1);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool all_exist(const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (!shm_exists(n)) return false;
  return !names.empty();
}
bool none_exist(const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (shm_exists(n)) return false;
  return true;
}

void check_no_zombie_children() {
  // Our own children are reaped by the tests; anything left is a bug.
  CHECK(wait_until([] { return zombie_children().empty(); }, 3s));
}

}  // namespace

TEST_CASE("a SIGKILLed child's segments are removed once the whole tree is gone") {
  pipe_pair report, control;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    ::close(control.write);
    begin_submain(err, report.write);
    const pid_t child = fork_run([&] {
      std::optional<shm::SharedMemory> block;
      detail::shared_ref<int> object;
      say(report.write, "names " + create_two(block, object));
      say(report.write, "child " + std::to_string(::getpid()));
      await_go(control.read);  // never comes: the test kills us
      ::_exit(0);
      return 0;
    });
    const int code = wait_exit(child);
    say(report.write, "reaped " + std::to_string(code));
    await_go(control.read);
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto names = split(lines.expect("names"));
  const pid_t child = std::atoi(lines.expect("child").c_str());
  REQUIRE(tracker_pid > 0);
  REQUIRE(names.size() == 2);
  REQUIRE(child > 0);
  CHECK(all_exist(names));

  ::kill(child, SIGKILL);
  CHECK(lines.expect("reaped") == std::to_string(128 + SIGKILL));
  // The sub-main still holds the connection: nothing may be removed yet.
  std::this_thread::sleep_for(300ms);
  CHECK(all_exist(names));
  CHECK_FALSE(exited(tracker_pid));

  say(control.write, "go");
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return none_exist(names); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  CHECK(err.contents().find("leaked shared_memory") != std::string::npos);
  check_no_zombie_children();
}

TEST_CASE("segments are removed after the main process is SIGKILLed and its child exits") {
  pipe_pair report, control;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    ::close(control.write);
    begin_submain(err, report.write);
    fork_run([&] {
      std::optional<shm::SharedMemory> block;
      detail::shared_ref<int> object;
      say(report.write, "names " + create_two(block, object));
      await_go(control.read);
      ::_exit(0);  // neither unlinked nor destroyed
      return 0;
    });
    await_go(control.read);  // killed before; returns early only if the test ends
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto names = split(lines.expect("names"));
  REQUIRE(names.size() == 2);
  CHECK(all_exist(names));

  ::kill(sub.pid, SIGKILL);
  CHECK(sub.wait() == 128 + SIGKILL);
  // The orphaned child still holds the connection.
  std::this_thread::sleep_for(300ms);
  CHECK(all_exist(names));
  CHECK_FALSE(exited(tracker_pid));

  say(control.write, "go");
  CHECK(wait_until([&] { return none_exist(names); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  check_no_zombie_children();
}

TEST_CASE("segments a program forgets to unlink are removed when it exits normally") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    std::optional<shm::SharedMemory> block;
    detail::shared_ref<int> object;
    std::string names = create_two(block, object);
    shm::ShareableList<int> list{1, 2, 3};
    names += " " + list.shm().name();
    // A child's segment, created and forgotten while the main process lives on.
    const pid_t child = fork_run([&] {
      shm::SharedMemory own(std::nullopt, true, 100);
      say(report.write, "child-name " + own.name());
      return 0;
    });
    if (wait_exit(child) != 0) return 1;
    say(report.write, "names " + names);
    ::_exit(0);  // like a program whose handles were never destroyed
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const std::string child_name = lines.expect("child-name");
  auto names = split(lines.expect("names"));
  REQUIRE(names.size() == 3);
  names.push_back(child_name);
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return none_exist(names); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  // Like CPython's tracker, it says what it cleaned up.
  const std::string warning = err.contents();
  INFO(warning);
  CHECK(warning.find("4 leaked shared_memory objects") != std::string::npos);
  CHECK(warning.find(child_name) != std::string::npos);
  check_no_zombie_children();
}

namespace {
[[noreturn]] void fail() { throw std::runtime_error("the program fails"); }
// Uncaught in a noexcept function: std::terminate, then abort.
void die_by_exception() noexcept { fail(); }
}  // namespace

TEST_CASE("segments are removed when the program dies of an uncaught exception") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    std::optional<shm::SharedMemory> block;
    detail::shared_ref<int> object;
    say(report.write, "names " + create_two(block, object));
    die_by_exception();
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto names = split(lines.expect("names"));
  REQUIRE(names.size() == 2);
  CHECK(sub.wait() == 128 + SIGABRT);
  CHECK(wait_until([&] { return none_exist(names); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  check_no_zombie_children();
}

TEST_CASE("an explicit unlink removes the name at once and the tracker stays quiet") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    std::string names;
    {
      shm::SharedMemory block(std::nullopt, true, 64);
      names = block.name();
      block.unlink();
      if (shm_exists(block.name())) return 2;
      // The library's objects unlink when their last handle in the creator goes.
      auto object = detail::shared_ref<int>::make(0, 1);
      names += " " + object.name().substr(1);
    }
    say(report.write, "names " + names);
    for (const auto& n : split(names))
      if (shm_exists(n)) return 3;
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto names = split(lines.expect("names"));
  CHECK(names.size() == 2);
  CHECK(sub.wait() == 0);
  CHECK(none_exist(names));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  CHECK(err.contents().empty());
  check_no_zombie_children();
}

TEST_CASE("a forked child registers with its parent's tracker") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    const pid_t parent_tracker = tracker().pid();
    pipe_pair names;
    const pid_t child = fork_run([&] {
      shm::SharedMemory block(std::nullopt, true, 64);
      say(names.write, block.name());
      return tracker().pid() == parent_tracker ? 0 : 1;
    });
    const int code = wait_exit(child);
    line_reader r(names.read);
    const std::string name = r.next(5s).value_or("");
    // Registered with our tracker, so it outlives the child that made it.
    std::this_thread::sleep_for(200ms);
    say(report.write, "child " + std::to_string(code) + " " + name + " " +
                          (shm_exists(name) ? "kept" : "gone"));
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto fields = split(lines.expect("child"));
  REQUIRE(fields.size() == 3);
  CHECK(fields[0] == "0");
  CHECK(fields[2] == "kept");
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return !shm_exists(fields[1]); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  check_no_zombie_children();
}

TEST_CASE("a tracker that died is restarted on the next registration") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    const pid_t first = tracker().pid();
    ::kill(first, SIGKILL);
    if (!wait_until([&] { return exited(first); }, 10s)) return 2;
    const int fd_before = tracker().fd();
    shm::SharedMemory block(std::nullopt, true, 64);
    const pid_t second = tracker().pid();
    if (second <= 0 || second == first) return 3;
    // The descriptor number is kept, so concurrent senders never write to a stranger.
    if (tracker().fd() != fd_before) return 4;
    say(report.write, "second " + std::to_string(second) + " " + block.name());
    return 0;  // without unlink: the new tracker must clean up
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t first = std::atoi(lines.expect("tracker").c_str());
  const auto fields = split(lines.expect("second"));
  REQUIRE(fields.size() == 2);
  const pid_t second = std::atoi(fields[0].c_str());
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return !shm_exists(fields[1]); }, 10s));
  CHECK(wait_until([&] { return exited(second); }, 10s));
  CHECK(exited(first));
  CHECK(err.contents().find("died unexpectedly") != std::string::npos);
  check_no_zombie_children();
}

TEST_CASE("the tracker ignores Ctrl-C, SIGTERM and SIGHUP until it has cleaned up") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    shm::SharedMemory block(std::nullopt, true, 64);
    // A terminal's Ctrl-C reaches the whole foreground group; the program
    // itself may die of it, the tracker must not.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::kill(tracker().pid(), sig);
    std::this_thread::sleep_for(200ms);
    say(report.write, "alive " + std::string(exited(tracker().pid()) ? "no" : "yes") + " " +
                          block.name());
    ::kill(::getpid(), SIGTERM);  // the program dies of the signal it got
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto fields = split(lines.expect("alive"));
  REQUIRE(fields.size() == 2);
  CHECK(fields[0] == "yes");
  CHECK(sub.wait() == 128 + SIGTERM);
  CHECK(wait_until([&] { return !shm_exists(fields[1]); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  check_no_zombie_children();
}

TEST_CASE("the tracker does not hold the program's stdout or other descriptors") {
  pipe_pair out, report, control;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(out.read);
    ::close(report.read);
    ::close(control.write);
    ::dup2(out.write, STDOUT_FILENO);  // like a test harness capturing output
    begin_submain(err, report.write);
    shm::SharedMemory block(std::nullopt, true, 64);
    const pid_t child = fork_run([&] {
      const int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, STDOUT_FILENO);
      ::close(out.write);
      ::close(report.write);
      await_go(control.read);
      return 0;
    });
    say(report.write, "child " + std::to_string(child) + " " + block.name());
    return 0;
  })};
  ::close(out.write);
  out.write = -1;
  ::close(report.write);
  report.write = -1;
  ::close(control.read);
  control.read = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto fields = split(lines.expect("child"));
  REQUIRE(fields.size() == 2);
  CHECK(sub.wait() == 0);
  // The tracker is still running (the child holds the connection), yet the
  // captured stdout reaches end-of-file: only the exited sub-main had it.
  line_reader captured(out.read);
  const auto start = steady::now();
  CHECK_FALSE(captured.next(5s).has_value());
  CHECK(steady::now() - start < 4s);
  CHECK_FALSE(exited(tracker_pid));
  // The same for the report pipe, which the tracker was forked holding.
  CHECK_FALSE(lines.next(5s).has_value());
  CHECK(shm_exists(fields[1]));

  say(control.write, "go");
  CHECK(wait_until([&] { return !shm_exists(fields[1]); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  check_no_zombie_children();
}

TEST_CASE("a spawned child adopts the tracker connection from the environment") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    begin_submain(err, report.write);
    // What a spawn launcher does: an inheritable copy, its number in the environment.
    const int inheritable = ::dup(tracker().fd());
    const std::string value = std::to_string(inheritable) + ":" + std::to_string(tracker().pid());
    ::setenv(detail::resource_tracker::fd_environment_variable, value.c_str(), 1);
    pipe_pair names;
    const pid_t child = fork_run([&] {
      // Stands in for the exec'd program: it only has the inherited number.
      tracker().detach();
      if (!tracker().adopt_from_environment()) return 1;
      if (tracker().fd() != inheritable) return 2;
      if ((::fcntl(inheritable, F_GETFD) & FD_CLOEXEC) == 0) return 3;
      shm::SharedMemory block(std::nullopt, true, 64);
      say(names.write, block.name() + " " + std::to_string(tracker().pid()));
      return 0;
    });
    ::close(inheritable);
    ::unsetenv(detail::resource_tracker::fd_environment_variable);
    const int code = wait_exit(child);
    line_reader r(names.read);
    const std::string line = r.next(5s).value_or("? 0");
    const auto fields = split(line);
    std::this_thread::sleep_for(200ms);
    say(report.write, "child " + std::to_string(code) + " " + line + " " +
                          (shm_exists(fields[0]) ? "kept" : "gone"));
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto fields = split(lines.expect("child"));
  REQUIRE(fields.size() == 4);
  CHECK(fields[0] == "0");
  CHECK(fields[2] == std::to_string(tracker_pid));
  CHECK(fields[3] == "kept");
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return !shm_exists(fields[1]); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  check_no_zombie_children();
}

TEST_CASE("threads registering at once share one tracker") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    err.redirect();
    tracker().detach();  // nothing running: the threads race to start it
    constexpr int threads = 6, each = 15;
    std::vector<std::vector<std::string>> names(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&names, t] {
        for (int i = 0; i < each; ++i) {
          shm::SharedMemory block(std::nullopt, true, 64);
          names[t].push_back(block.name());
        }
      });
    for (auto& w : workers) w.join();
    std::string all;
    for (const auto& v : names)
      for (const auto& n : v) all += " " + n;
    say(report.write, "tracker " + std::to_string(tracker().pid()));
    say(report.write, "names" + all);
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const pid_t tracker_pid = std::atoi(lines.expect("tracker").c_str());
  const auto names = split(lines.expect("names"));
  CHECK(names.size() == 90);
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return none_exist(names); }, 10s));
  CHECK(wait_until([&] { return exited(tracker_pid); }, 10s));
  // One tracker had them all (trackers that lost the race to start exit at
  // once, having nothing), and nothing went wrong on the way.
  const std::string warning = err.contents();
  INFO(warning);
  CHECK(warning.find("there appear to be 90 leaked") != std::string::npos);
  CHECK(warning.find("cannot track") == std::string::npos);
  CHECK(warning.find("died") == std::string::npos);
  check_no_zombie_children();
}

TEST_CASE("unregistering never starts a tracker") {
  pipe_pair report;
  submain sub{fork_run([&] {
    tracker().detach();
    tracker().unregister_segment("/mpcpp-nothing");
    return tracker().pid() == 0 ? 0 : 1;
  })};
  CHECK(sub.wait() == 0);
  check_no_zombie_children();
}

TEST_CASE("when no tracker can start, creation still works and the program is warned once") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    err.redirect();
    tracker().detach();
    detail::posix::sys().fork = []() -> pid_t {
      errno = EAGAIN;
      return -1;
    };
    for (int i = 0; i < 3; ++i) {
      shm::SharedMemory block(std::nullopt, true, 64);  // noexcept registration
      block.buf()[0] = std::byte{1};
      block.unlink();
    }
    return tracker().pid() == 0 && tracker().fd() == -1 ? 0 : 1;
  })};
  CHECK(sub.wait() == 0);
  const std::string warning = err.contents();
  INFO(warning);
  CHECK(warning.find("cannot track shared memory (fork failed") != std::string::npos);
  CHECK(warning.find("cannot track") == warning.rfind("cannot track"));  // once
  check_no_zombie_children();
}

TEST_CASE("starting the tracker does not block when the program ignores SIGCHLD") {
  pipe_pair report;
  stderr_file err;
  submain sub{fork_run([&] {
    ::close(report.read);
    err.redirect();
    tracker().detach();
    ::signal(SIGCHLD, SIG_IGN);  // children are reaped by the kernel
    // A long-lived child: waitpid on the tracker's middle process would wait
    // for it too if it were called with SIGCHLD ignored.
    const pid_t sleeper = fork_run([] {
      std::this_thread::sleep_for(20s);
      return 0;
    });
    const auto start = steady::now();
    shm::SharedMemory block(std::nullopt, true, 64);
    const bool quick = steady::now() - start < 5s;
    ::kill(sleeper, SIGKILL);
    say(report.write, "done " + std::string(quick ? "quick" : "slow") + " " +
                          std::to_string(tracker().pid()) + " " + block.name());
    ::_exit(0);
    return 0;
  })};
  ::close(report.write);
  report.write = -1;
  line_reader lines(report.read);
  const auto fields = split(lines.expect("done"));
  REQUIRE(fields.size() == 3);
  CHECK(fields[0] == "quick");
  CHECK(sub.wait() == 0);
  CHECK(wait_until([&] { return !shm_exists(fields[2]); }, 10s));
  CHECK(wait_until([&] { return exited(std::atoi(fields[1].c_str())); }, 10s));
  check_no_zombie_children();
}
