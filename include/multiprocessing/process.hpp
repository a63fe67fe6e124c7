#pragma once
/// mp::Process and the module functions of Python's multiprocessing.process:
/// current_process(), parent_process(), active_children(), cpu_count().

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "detail/exception_transfer.hpp"
#include "detail/popen.hpp"
#include "detail/popen_fork.hpp"
#include "detail/posix/process.hpp"
#include "detail/process_state.hpp"
#include "exceptions.hpp"

namespace multiprocessing {

/// What is known of another process: its pid, name and daemon flag.
class ProcessInfo {
 public:
  ProcessInfo(int pid, std::string name, bool daemon)
      : pid_(pid), name_(std::move(name)), daemon_(daemon) {}
  int pid() const noexcept { return pid_; }
  int ident() const noexcept { return pid_; }
  std::string name() const { return name_; }
  bool daemon() const noexcept { return daemon_; }
  /// Whether the process still exists (for a parent: has not ended).
  bool is_alive() const noexcept { return ::kill(pid_, 0) == 0 || errno == EPERM; }

 private:
  int pid_;
  std::string name_;
  bool daemon_;
};

/// The running process itself (Python: multiprocessing.current_process()).
class CurrentProcess {
 public:
  std::string name() const { return detail::process_state::get().name(); }
  void set_name(std::string name) { detail::process_state::get().set_name(std::move(name)); }
  int pid() const noexcept { return static_cast<int>(::getpid()); }
  int ident() const noexcept { return pid(); }
  bool daemon() const noexcept { return detail::process_state::get().daemon(); }
  /// Always true: the caller is running.
  bool is_alive() const noexcept { return true; }
};

/// This process: name() is "MainProcess" in the main process.
inline CurrentProcess& current_process() {
  static CurrentProcess self;
  return self;
}

/// The process that started this one; nullopt in the main process.
inline std::optional<ProcessInfo> parent_process() {
  auto p = detail::process_state::get().parent();
  if (!p) return std::nullopt;
  return ProcessInfo(static_cast<int>(p->pid), p->name, false);
}

/// Children of this process that are still running; ended ones are reaped.
inline std::vector<ProcessInfo> active_children() {
  std::vector<ProcessInfo> out;
  for (auto& c : detail::process_state::get().active_children())
    out.emplace_back(static_cast<int>(c->pid()), c->name(), c->daemon());
  return out;
}

/// Logical CPUs of the machine.
inline int cpu_count() noexcept { return detail::posix::online_cpus(); }
/// CPUs this process may run on (its affinity mask).
inline int process_cpu_count() noexcept { return detail::posix::affinity_cpus(); }

namespace detail {

/// Type-erased target and arguments, stored as decayed copies (std::thread's
/// rule) and handed to the target as rvalues.
class process_target {
 public:
  virtual ~process_target() = default;
  virtual void invoke() = 0;
  /// In the parent once the child runs: arguments given away to the child
  /// (a Connection) are closed here.
  virtual void after_start_in_parent() noexcept = 0;
};

template <class T>
concept gives_itself_to_child = requires(T& t) { mp_after_start_in_parent(t); };

template <class F, class... Args>
class process_target_impl final : public process_target {
 public:
  template <class G, class... A>
  explicit process_target_impl(G&& f, A&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}
  void invoke() override {
    std::apply([this](auto&&... a) { std::invoke(std::move(f_), std::move(a)...); },
               std::move(args_));
  }
  void after_start_in_parent() noexcept override {
    std::apply([](auto&... a) { (after_start(a), ...); }, args_);
  }

 private:
  template <class T>
  static void after_start(T& t) noexcept {
    if constexpr (gives_itself_to_child<T>) mp_after_start_in_parent(t);
  }
  F f_;
  std::tuple<Args...> args_;
};


}  // namespace detail

/// A child process (Python: multiprocessing.Process). Move-only owner.
class Process {
 public:
  /// For subclasses that override run().
  Process() : identity_(detail::process_state::get().next_child_identity()) {
    name_ = default_name();
    daemon_ = detail::process_state::get().daemon();
  }

  /// Process(target=f, args=(args...)): f(args...) runs in the child. Arguments
  /// are stored as decayed copies (moved from rvalues) and passed as rvalues.
  template <class F, class... Args>
    requires(!std::is_base_of_v<Process, std::decay_t<F>> &&
             std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>)
  explicit Process(F&& target, Args&&... args) : Process() {
    target_ = std::make_unique<detail::process_target_impl<std::decay_t<F>, std::decay_t<Args>...>>(
        std::forward<F>(target), std::forward<Args>(args)...);
  }

  Process(Process&&) noexcept = default;
  Process& operator=(Process&&) noexcept = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  /// Does not stop the child: like Python, a started child runs on, and the
  /// main process joins it (or terminates it, if daemonic) at exit.
  virtual ~Process() = default;

  /// What the child runs: by default the target with its arguments.
  virtual void run() {
    if (target_) target_->invoke();
  }

  /// Starts the child. Throws ProcessError if already started, closed, or if
  /// this process is daemonic; OSError if fork fails.
  void start() {
    check_not_closed();
    if (popen_) throw ProcessError("cannot start a process twice");
    if (detail::process_state::get().daemon())
      throw ProcessError("daemonic processes are not allowed to have children");
    detail::fork_options opt;
    opt.name = name_;
    opt.identity = identity_;
    opt.daemon = daemon_;
    popen_ = detail::launch_fork(opt, [this] { return bootstrap(); });
    detail::process_state::get().add_child(popen_);
    if (target_) target_->after_start_in_parent();
  }

  /// Waits until the child ends. ProcessError before start; ValueError after close().
  void join() { (void)join_impl(std::nullopt); }
  /// Waits at most `timeout`; true if the child has ended.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_impl(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }

  /// True from start() until the child ends.
  bool is_alive() const {
    check_not_closed();
    if (is_current_) return true;  // asked by run() in the child itself
    if (!popen_) return false;
    if (popen_->parent() != ::getpid()) return false;
    return !popen_->poll().has_value();
  }

  /// SIGTERM (Python's terminate); nothing if the child has already ended.
  void terminate() { send(SIGTERM); }
  /// SIGKILL.
  void kill() { send(SIGKILL); }
  /// SIGINT (Python 3.14).
  void interrupt() { send(SIGINT); }

  /// Releases the child's resources. ValueError while it still runs.
  void close() {
    if (closed_) return;
    if (popen_) {
      if (!popen_->poll())
        throw ValueError(
            "Cannot close a process while it is still running. You should first call join() or "
            "terminate().");
      detail::process_state::get().remove_child(popen_.get());
      exitcode_after_close_ = popen_->poll();
      popen_.reset();
    }
    closed_ = true;
  }

  std::string name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  bool daemon() const noexcept { return daemon_; }
  /// Before start() only (ProcessError after).
  void set_daemon(bool daemonic) {
    check_not_closed();
    if (popen_) throw ProcessError("process has already started: cannot set daemon");
    daemon_ = daemonic;
  }
  /// The child's pid; nullopt before start().
  std::optional<int> pid() const {
    if (is_current_) return static_cast<int>(::getpid());  // as Python's self.pid in run()
    if (!popen_) return std::nullopt;
    return static_cast<int>(popen_->pid());
  }
  std::optional<int> ident() const { return pid(); }
  /// nullopt while running (or before start); -N if ended by signal N;
  /// 1 if the target threw.
  std::optional<int> exitcode() const {
    if (closed_) return exitcode_after_close_;
    if (!popen_ || popen_->parent() != ::getpid()) return std::nullopt;
    return popen_->poll();
  }
  /// A descriptor that becomes readable when the child ends (for
  /// connection::wait). ProcessError before start().
  int sentinel() const {
    check_not_closed();
    if (!popen_) throw ProcessError("process not started");
    return popen_->sentinel();
  }

 private:
  std::string default_name() const {
    return fmt::format("Process-{}", fmt::join(identity_, ":"));
  }
  void check_not_closed() const {
    if (closed_) throw ValueError("process object is closed");
  }
  bool join_impl(std::optional<std::chrono::nanoseconds> timeout) {
    check_not_closed();
    if (!popen_) throw ProcessError("can only join a started process");
    if (popen_->parent() != ::getpid()) throw ProcessError("can only join a child process");
    bool ended = popen_->wait(timeout).has_value();
    if (ended) detail::process_state::get().remove_child(popen_.get());
    return ended;
  }
  void send(int sig) {
    check_not_closed();
    if (!popen_) throw ProcessError("process not started");
    popen_->send_signal(sig);
  }

  // Runs in the child: Python's BaseProcess._bootstrap.
  int bootstrap() noexcept {
    is_current_ = true;
    try {
      run();
      return 0;
    } catch (...) {
      std::string what;
      try {
        throw;
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      std::string type = detail::current_exception_type_name();
      std::fprintf(stderr, "Process %s:\n%s: %s\n", name_.c_str(), type.c_str(), what.c_str());
      std::fflush(stderr);
      return 1;
    }
  }

  std::vector<int> identity_;
  std::string name_;
  bool daemon_ = false;
  bool closed_ = false;
  bool is_current_ = false;  // true in the child, for the Process object it runs
  std::optional<int> exitcode_after_close_;
  std::unique_ptr<detail::process_target> target_;
  std::shared_ptr<detail::popen> popen_;
};

}  // namespace multiprocessing
