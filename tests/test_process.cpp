// mp::Process and the module functions of process.hpp. Children report
// through exit codes and raw pipes; they never run assertions.
#include <multiprocessing/process.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "catch.hpp"
#include "test_util.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;

namespace {

struct raw_pipe {
  int r = -1, w = -1;
  raw_pipe() {
    int p[2];
    if (::pipe(p) != 0) std::abort();
    r = p[0];
    w = p[1];
  }
  ~raw_pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  void close_write() {
    ::close(w);
    w = -1;
  }
  std::string read_all() {
    close_write();
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(r, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

void write_str(int fd, const std::string& s) { (void)!::write(fd, s.data(), s.size()); }

}  // namespace

TEST_CASE("a process runs its target and exits with code 0") {
  raw_pipe p;
  mp::Process proc([fd = p.w](int a, std::string b) { write_str(fd, std::to_string(a) + b); }, 41,
                   std::string("x"));
  CHECK_FALSE(proc.pid().has_value());
  CHECK_FALSE(proc.exitcode().has_value());
  CHECK_FALSE(proc.is_alive());
  proc.start();
  REQUIRE(proc.pid().has_value());
  CHECK(proc.ident() == proc.pid());
  CHECK(*proc.pid() != ::getpid());
  proc.join();
  CHECK(proc.exitcode() == 0);
  CHECK_FALSE(proc.is_alive());
  CHECK(p.read_all() == "41x");
}

TEST_CASE("exit codes follow Python: _exit(N) gives N, a signal gives -N") {
  mp::Process exits([] { ::_exit(7); });
  exits.start();
  exits.join();
  CHECK(exits.exitcode() == 7);

  mp::Process segv([] { std::raise(SIGSEGV); });
  segv.start();
  segv.join();
  CHECK(segv.exitcode() == -SIGSEGV);

  mp::Process sleeper([] { std::this_thread::sleep_for(60s); });
  sleeper.start();
  sleeper.terminate();
  sleeper.join();
  CHECK(sleeper.exitcode() == -SIGTERM);

  mp::Process killed([] { std::this_thread::sleep_for(60s); });
  killed.start();
  killed.kill();
  killed.join();
  CHECK(killed.exitcode() == -SIGKILL);

  mp::Process interrupted([] { std::this_thread::sleep_for(60s); });
  interrupted.start();
  interrupted.interrupt();
  interrupted.join();
  CHECK(interrupted.exitcode() == -SIGINT);
}

TEST_CASE("a target that throws exits with 1 and reports like Python on stderr") {
  test_util::capture_fd err(2);
  mp::Process proc([] { throw std::runtime_error("boom"); });
  std::string name = proc.name();
  proc.start();
  proc.join();
  std::string text = err.text();
  CHECK(proc.exitcode() == 1);
  CHECK(text.find("Process " + name + ":") != std::string::npos);
  CHECK(text.find("std::runtime_error: boom") != std::string::npos);
}

TEST_CASE("join with a timeout returns false while the child runs, true once it ended") {
  mp::Process proc([] { std::this_thread::sleep_for(400ms); });
  proc.start();
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(proc.join(50ms));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 45ms);
  CHECK(waited < 2s);
  CHECK(proc.is_alive());
  CHECK_FALSE(proc.exitcode().has_value());
  CHECK(proc.join(10s));
  CHECK_FALSE(proc.is_alive());
  CHECK(proc.exitcode() == 0);
}

TEST_CASE("misuse raises Python's errors") {
  mp::Process proc([] {});
  CHECK_THROWS_AS(proc.join(), mp::ProcessError);
  CHECK_THROWS_AS(proc.terminate(), mp::ProcessError);
  CHECK_THROWS_AS(proc.sentinel(), mp::ProcessError);
  proc.start();
  CHECK_THROWS_AS(proc.start(), mp::ProcessError);
  CHECK_THROWS_AS(proc.set_daemon(true), mp::ProcessError);
  proc.join();
  proc.terminate();  // ended: nothing happens, as in Python
  proc.close();
  CHECK_THROWS_AS(proc.join(), mp::ValueError);
  CHECK_THROWS_AS(proc.is_alive(), mp::ValueError);
  CHECK(proc.exitcode() == 0);

  mp::Process running([] { std::this_thread::sleep_for(60s); });
  running.start();
  CHECK_THROWS_AS(running.close(), mp::ValueError);
  running.kill();
  running.join();
  running.close();
}

TEST_CASE("names are Process-N, and a child's children are Process-N:M") {
  mp::Process a([] {});
  mp::Process b([] {});
  auto number = [](const std::string& n) { return std::stoi(n.substr(n.find('-') + 1)); };
  REQUIRE(a.name().rfind("Process-", 0) == 0);
  CHECK(number(b.name()) == number(a.name()) + 1);
  b.set_name("worker");
  CHECK(b.name() == "worker");
  CHECK(mp::current_process().name() == "MainProcess");

  raw_pipe p;
  mp::Process outer([fd = p.w] {
    mp::Process inner([fd] { write_str(fd, mp::current_process().name() + "\n"); });
    write_str(fd, mp::current_process().name() + "|" + inner.name() + "\n");
    inner.start();
    inner.join();
  });
  std::string outer_name = outer.name();
  outer.start();
  outer.join();
  std::string text = p.read_all();
  CHECK(text == outer_name + "|" + outer_name + ":1\n" + outer_name + ":1\n");
}

TEST_CASE("current_process, parent_process and active_children") {
  CHECK_FALSE(mp::parent_process().has_value());
  CHECK(mp::current_process().pid() == ::getpid());
  CHECK_FALSE(mp::current_process().daemon());

  raw_pipe p;
  mp::Process child([fd = p.w] {
    auto parent = mp::parent_process();
    write_str(fd, parent ? std::to_string(parent->pid()) + " " + parent->name() : "none");
    write_str(fd, " " + std::to_string(mp::current_process().pid() == ::getpid()));
    write_str(fd, " " + std::to_string(mp::active_children().size()));
  });
  child.start();
  child.join();
  CHECK(p.read_all() == std::to_string(::getpid()) + " MainProcess 1 0");

  mp::Process sleeper([] { std::this_thread::sleep_for(60s); });
  sleeper.set_daemon(true);
  sleeper.start();
  auto kids = mp::active_children();
  REQUIRE(kids.size() == 1);
  CHECK(kids[0].pid() == *sleeper.pid());
  CHECK(kids[0].name() == sleeper.name());
  CHECK(kids[0].daemon());
  sleeper.kill();
  CHECK(test_util::wait_until([] { return mp::active_children().empty(); }));
  CHECK(sleeper.exitcode() == -SIGKILL);
}

TEST_CASE("arguments are decayed copies passed as rvalues; move-only ones work") {
  raw_pipe p;
  auto owned = std::make_unique<int>(5);
  std::string text = "hello";
  mp::Process proc(
      [fd = p.w](std::unique_ptr<int> v, std::string&& s, const std::string& t) {
        write_str(fd, std::to_string(*v) + s + t);
      },
      std::move(owned), text, std::string("!"));
  text = "changed after construction";
  proc.start();
  proc.join();
  CHECK(proc.exitcode() == 0);
  CHECK(p.read_all() == "5hello!");
}

namespace {
class MyProcess : public mp::Process {
 public:
  MyProcess(int a, int b, int c) : a_(a), b_(b), c_(c) {}
  void run() override { ::_exit(a_ + b_ + c_); }

 private:
  int a_, b_, c_;
};
}  // namespace

TEST_CASE("a subclass overriding run() runs in the child") {
  MyProcess p(1, 2, 3);
  p.start();
  p.join();
  CHECK(p.exitcode() == 6);
}

namespace {
// Python's self.pid and self.is_alive() inside run() describe the child.
struct SelfAwareProcess : mp::Process {
  void run() override {
    const bool pid_is_mine = pid() == static_cast<int>(::getpid()) && ident() == pid();
    const bool alive = is_alive() && mp::current_process().is_alive();
    ::_exit(pid_is_mine && alive ? 0 : 3);
  }
};
}  // namespace

TEST_CASE("inside run(), pid() is the child's own and is_alive() is true") {
  SelfAwareProcess p;
  p.start();
  REQUIRE(p.join(10s));
  CHECK(p.exitcode() == 0);
  CHECK(p.pid() != static_cast<int>(::getpid()));
}

TEST_CASE("a daemonic process may not start children") {
  mp::Process d([] {
    mp::Process inner([] {});
    try {
      inner.start();
    } catch (const mp::ProcessError&) {
      ::_exit(42);
    }
    ::_exit(1);
  });
  d.set_daemon(true);
  CHECK(d.daemon());
  d.start();
  d.join();
  CHECK(d.exitcode() == 42);
}

TEST_CASE("start flushes stdio buffers so output is not duplicated") {
  test_util::capture_fd out(1);
  std::fputs("written once", stdout);  // buffered: stdout is a pipe now
  mp::Process proc([] {});
  proc.start();
  proc.join();
  CHECK(out.text() == "written once");
}

TEST_CASE("sentinel becomes readable when the child ends") {
  mp::Process proc([] { std::this_thread::sleep_for(200ms); });
  proc.start();
  int fd = proc.sentinel();
  CHECK(fd >= 0);
  pollfd pfd{fd, POLLIN, 0};
  CHECK(::poll(&pfd, 1, 0) == 0);
  CHECK(::poll(&pfd, 1, 10000) == 1);
  proc.join();
  CHECK(proc.exitcode() == 0);
}

TEST_CASE("at normal exit daemonic children are terminated and the others joined") {
  auto r = test_util::run_program(test_util::helper("mp_exit_hook"), {});
  CHECK(r.exit_code == 0);
  INFO(r.out);
  CHECK(r.out.find("worker done") != std::string::npos);
  auto pos = r.out.find("daemon ");
  REQUIRE(pos != std::string::npos);
  int daemon_pid = std::stoi(r.out.substr(pos + 7));
  CHECK(test_util::wait_until([&] { return test_util::process_gone(daemon_pid); }, 5s));
}

TEST_CASE("a daemonic child dies with a SIGKILLed parent") {
  auto r = test_util::run_program(test_util::helper("mp_exit_hook"), {"sigkill-self"});
  CHECK(r.exit_code == -SIGKILL);
  auto pos = r.out.find("daemon ");
  REQUIRE(pos != std::string::npos);
  int daemon_pid = std::stoi(r.out.substr(pos + 7));
  CHECK(test_util::wait_until([&] { return test_util::process_gone(daemon_pid); }, 5s));
}

TEST_CASE("forking a process that has other threads warns once") {
  test_util::capture_fd err(2);
  auto r = test_util::run_program(test_util::helper("mp_threaded_fork"), {});
  std::string text = err.text();
  CHECK(r.exit_code == 0);
  auto first = text.find("fork() may deadlock");
  CHECK(first != std::string::npos);
  CHECK(text.find("fork() may deadlock", first + 1) == std::string::npos);
}

TEST_CASE("cpu_count and process_cpu_count") {
  CHECK(mp::cpu_count() >= 1);
  CHECK(mp::process_cpu_count() >= 1);
  CHECK(mp::process_cpu_count() <= mp::cpu_count());
}

TEST_CASE("joined children leave no zombie") {
  for (int i = 0; i < 5; ++i) {
    mp::Process p([] {});
    p.start();
    p.join();
  }
  mp::Process killed([] { std::this_thread::sleep_for(60s); });
  killed.start();
  killed.kill();
  killed.join();
  CHECK(test_util::zombie_children() == 0);
}

TEST_CASE("a destroyed Process object does not stop or orphan its child") {
  raw_pipe p;
  {
    mp::Process proc([fd = p.w] {
      std::this_thread::sleep_for(100ms);
      write_str(fd, "still ran");
    });
    proc.start();
  }
  CHECK(mp::active_children().size() == 1);
  CHECK(test_util::wait_until([] { return mp::active_children().empty(); }, 10s));
  CHECK(p.read_all() == "still ran");
}
