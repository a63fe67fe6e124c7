#pragma once
// This process's own view of the process tree (CPython's process.py module
// globals): its name and identity, its parent, the children it started, and
// the exit hook that terminates daemonic children and joins the others.

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "popen.hpp"

namespace multiprocessing::detail {

struct parent_info {
  pid_t pid;
  std::string name;
};

class process_state {
 public:
  static process_state& get() {
    // Never destroyed: the exit hook and static handles may run after other statics.
    static auto* s = new process_state;
    return *s;
  }

  std::string name() const {
    std::lock_guard g(mutex_);
    return name_;
  }
  void set_name(std::string n) {
    std::lock_guard g(mutex_);
    name_ = std::move(n);
  }
  bool daemon() const noexcept { return daemon_; }
  std::optional<parent_info> parent() const {
    std::lock_guard g(mutex_);
    return parent_;
  }

  /// Identity of the next child: ours plus a counter ("Process-2:1").
  std::vector<int> next_child_identity() {
    std::lock_guard g(mutex_);
    auto id = identity_;
    id.push_back(++counter_);
    return id;
  }

  void add_child(std::shared_ptr<popen> p) {
    std::lock_guard g(mutex_);
    children_.push_back(std::move(p));
    if (!exit_hook_registered_) {
      exit_hook_registered_ = true;
      std::atexit([] { process_state::get().exit_function(); });
    }
  }
  /// Runs `hook` at the end of exit_function(), after the children are
  /// joined (Python runs its negative-priority finalizers there), in this
  /// process and in the children it forks. Queues flush their feeder
  /// threads this way. Also makes sure exit_function() runs at exit().
  void add_exit_hook(void (*hook)() noexcept) {
    std::lock_guard g(mutex_);
    if (std::find(exit_hooks_.begin(), exit_hooks_.end(), hook) == exit_hooks_.end())
      exit_hooks_.push_back(hook);
    if (!exit_hook_registered_) {
      exit_hook_registered_ = true;
      std::atexit([] { process_state::get().exit_function(); });
    }
  }
  void remove_child(const popen* p) {
    std::lock_guard g(mutex_);
    std::erase_if(children_, [&](auto& c) { return c.get() == p; });
  }

  /// Children still running; ended ones are reaped and dropped.
  std::vector<std::shared_ptr<popen>> active_children() {
    std::vector<std::shared_ptr<popen>> all;
    {
      std::lock_guard g(mutex_);
      all = children_;
    }
    std::vector<std::shared_ptr<popen>> alive;
    for (auto& c : all) {
      bool ended = true;
      try {
        ended = c->poll().has_value();
      } catch (...) {  // not ours to wait for any more (ECHILD): treat as ended
      }
      if (ended)
        remove_child(c.get());
      else
        alive.push_back(c);
    }
    return alive;
  }

  /// Called in a new child right after fork: it is now `name`, its parent is
  /// the process that forked it, and it has no children yet.
  void become_child(std::string name, std::vector<int> identity, bool daemon, parent_info parent) {
    // The fork happened with mutex_ free (see the atfork handlers), so no lock
    // is needed: this is the only thread.
    name_ = std::move(name);
    identity_ = std::move(identity);
    counter_ = 0;
    daemon_ = daemon;
    parent_ = std::move(parent);
    children_.clear();
    exit_hook_registered_ = false;
  }

  /// Python's util._exit_function: terminate daemonic children, join all,
  /// then run the exit hooks.
  void exit_function() noexcept {
    try {
      auto children = active_children();
      for (auto& c : children)
        if (c->daemon()) c->send_signal(SIGTERM);
      for (auto& c : children) c->wait(std::nullopt);
      std::lock_guard g(mutex_);
      children_.clear();
    } catch (...) {  // at exit there is no one left to report to
    }
    try {
      std::vector<void (*)() noexcept> hooks;
      {
        std::lock_guard g(mutex_);
        hooks = exit_hooks_;
      }
      for (auto* hook : hooks) hook();
    } catch (...) {
    }
  }

 private:
  process_state() {
    ::pthread_atfork([] { get().mutex_.lock(); }, [] { get().mutex_.unlock(); },
                     [] { get().mutex_.unlock(); });
  }

  mutable std::mutex mutex_;
  std::string name_ = "MainProcess";
  std::vector<int> identity_;
  int counter_ = 0;
  bool daemon_ = false;
  std::optional<parent_info> parent_;
  std::vector<std::shared_ptr<popen>> children_;
  bool exit_hook_registered_ = false;
  std::vector<void (*)() noexcept> exit_hooks_;  // kept across fork: the hooks are per program
};

}  // namespace multiprocessing::detail
