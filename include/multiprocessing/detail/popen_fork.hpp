#pragma once
// Start method "fork" (CPython's popen_fork.py): the child is a copy of this
// process that runs the target and leaves with _exit.

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "popen.hpp"
#include "posix/process.hpp"
#include "process_state.hpp"

namespace multiprocessing::detail {

/// Python 3.12 warns when a multi-threaded process forks; so do we, once.
inline void warn_if_threaded_fork(int threads) {
  static std::atomic<bool> warned{false};
  if (threads <= 1 || warned.exchange(true)) return;
  std::fprintf(stderr,
               "multiprocessing: warning: process %d has %d threads; fork() may deadlock in the "
               "child if another thread holds a lock. Consider mp::set_start_method(\"forkserver\") "
               "or \"spawn\".\n",
               static_cast<int>(::getpid()), threads);
}

struct fork_options {
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  bool warn_threads = true;  // off for the library's own workers
};

/// Forks a child that runs `child_main` (returning its exit code) and returns
/// the parent's handle on it. `child_main` runs with this process's state
/// turned into the child's (name, parent, no children).
template <class ChildMain>
std::shared_ptr<popen> launch_fork(const fork_options& opt, ChildMain&& child_main) {
  posix::bind_child_functions();
  const posix::fork_snapshot snap = posix::take_fork_snapshot();
  if (opt.warn_threads) warn_if_threaded_fork(snap.threads);
  posix::flush_stdio();
  const pid_t parent = ::getpid();
  const std::string parent_name = process_state::get().name();
  pid_t pid;
  {
    // Signals stay blocked across fork so that neither side runs a handler
    // in the window before the child has reset them.
    posix::signal_block block;
    pid = posix::sys().fork();
    if (pid == 0) {
      posix::reset_signal_handlers(snap.caught);
      if (opt.daemon && !posix::die_with_parent(parent)) posix::exit_now(1);
      block.restore();
      process_state::get().become_child(opt.name, opt.identity, opt.daemon,
                                        parent_info{parent, parent_name});
      int code = 1;
      try {
        code = child_main();
      } catch (...) {  // child_main reports its own errors; this is the last guard
      }
      process_state::get().exit_function();
      posix::flush_stdio();
      posix::exit_now(code);
    }
    if (pid < 0) throw_os_error("fork", opt.name);
  }
  auto sentinel = posix::pidfd_open(pid);
  return std::make_shared<popen>(pid, std::move(sentinel), opt.name, opt.daemon);
}

}  // namespace multiprocessing::detail
