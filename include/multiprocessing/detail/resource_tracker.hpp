#pragma once
// The resource tracker records every shared-memory segment this program tree
// creates and unlinks the ones still there once every process of the tree is
// gone (CPython's resource_tracker.py, adapted; see posix/tracker_process.hpp
// for the helper process and the wire).
//
// One tracker serves a whole process tree: it is started on the first
// registration, and processes forked afterwards inherit the connection, so a
// segment created in a child that is then SIGKILLed is still removed once the
// tree is gone. A spawned (exec'd) child gets the connection's descriptor
// number through fd_environment_variable and calls adopt_from_environment().
//
// Only creators register; a process that merely attaches never does, so an
// unrelated program attaching by name cannot get a segment removed when it
// exits (the CPython bug bpo-39959).

#include <sys/types.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>

#include "posix/fork_safe_lock.hpp"
#include "posix/tracker_process.hpp"

namespace multiprocessing::detail {

class resource_tracker {
 public:
  /// Environment variable through which a spawned child learns the
  /// connection: "<fd>" or "<fd>:<tracker pid>".
  static constexpr const char* fd_environment_variable = "MPCPP_RESOURCE_TRACKER_FD";

  /// The tracker connection of this process (copied into forked children).
  static resource_tracker& instance() noexcept {
    // Constant-initialized and trivially destructible: usable from any
    // static constructor or destructor, and no init guard a fork could catch.
    static constinit resource_tracker tracker;
    return tracker;
  }

  /// Records a name ("/x" or "x") that must not outlive the program tree,
  /// starting the tracker on first use. The message is sent before this
  /// returns, so the name is cleaned even if the caller is killed right after.
  /// Never throws: if no tracker can run, warns once on stderr.
  void register_segment(std::string_view name) noexcept { send('R', name); }

  /// The name was unlinked normally; forget it. Never starts a tracker; never throws.
  void unregister_segment(std::string_view name) noexcept { send('U', name); }

  /// Starts the tracker if this process has none. Throws OSError if it cannot.
  void ensure_running() {
    std::lock_guard guard(lock_);
    if (fd_.load(std::memory_order_acquire) >= 0) return;
    const posix::tracker_connection c = posix::start_tracker();
    pid_.store(c.pid, std::memory_order_relaxed);
    fd_.store(c.fd, std::memory_order_release);
  }

  /// The descriptor of the connection (close-on-exec), starting the tracker
  /// if needed; -1 if it cannot start. A spawn launcher passes this number to
  /// the child (clearing close-on-exec there) through fd_environment_variable.
  int fd() noexcept {
    try {
      ensure_running();
    } catch (const std::exception& e) {
      warn_once(e.what());
      return -1;
    }
    return fd_.load(std::memory_order_acquire);
  }

  /// The tracker's pid, or 0 if none is known (not started, or adopted without it).
  pid_t pid() const noexcept { return pid_.load(std::memory_order_relaxed); }

  /// Uses an inherited connection (a spawned child) instead of starting a
  /// tracker; marks it close-on-exec. Replaces (and closes) any connection held.
  void adopt(int fd, pid_t tracker_pid = 0) noexcept {
    std::lock_guard guard(lock_);
    posix::tracker_set_cloexec(fd);
    const int old = fd_.exchange(fd, std::memory_order_acq_rel);
    if (old >= 0 && old != fd) posix::tracker_close(old);
    pid_.store(tracker_pid, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

  /// Adopts the connection named by fd_environment_variable, if it is set and
  /// names an open socket. Returns whether it did.
  bool adopt_from_environment() noexcept {
    const char* value = std::getenv(fd_environment_variable);
    if (value == nullptr) return false;
    const char* end = value + std::strlen(value);
    int fd = -1;
    auto [p, ec] = std::from_chars(value, end, fd);
    if (ec != std::errc{} || !posix::tracker_is_socket(fd)) return false;
    pid_t tracker_pid = 0;
    if (p != end && *p == ':') std::from_chars(p + 1, end, tracker_pid);
    adopt(fd, tracker_pid);
    return true;
  }

  /// Closes this process's connection; the next registration starts a new
  /// tracker. For a process that leaves the tree (and for tests). Not safe
  /// while other threads of this process register.
  void detach() noexcept {
    std::lock_guard guard(lock_);
    posix::tracker_close(fd_.exchange(-1, std::memory_order_acq_rel));
    pid_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  constexpr resource_tracker() noexcept = default;

  void send(char op, std::string_view name) noexcept {
    char message[posix::tracker_message_max];
    const bool slash = name.empty() || name.front() != '/';
    const std::size_t size = 2 + (slash ? 1 : 0) + name.size() + 1;
    if (size > sizeof message) return;  // too long to be a segment name: nothing to track
    char* out = message;
    *out++ = op;
    *out++ = ' ';
    if (slash) *out++ = '/';
    std::memcpy(out, name.data(), name.size());
    out[name.size()] = '\n';

    const unsigned generation = generation_.load(std::memory_order_acquire);
    int fd = fd_.load(std::memory_order_acquire);
    if (fd < 0) {
      if (op != 'R') return;
      fd = this->fd();
      if (fd < 0) return;
    }
    int err = posix::tracker_send(fd, message, size);
    if (err == 0) return;
    const bool dead = err == EPIPE || err == ECONNRESET || err == ENOTCONN;
    const bool lost = err == EBADF || err == ENOTSOCK;  // the program closed our descriptor
    // A dead tracker cannot forget a name: no point restarting one to unregister.
    if (op == 'R' && (dead || lost)) {
      fd = restart(fd, generation, lost);
      if (fd >= 0) err = posix::tracker_send(fd, message, size);
      if (err == 0) return;
    }
    if (op == 'R') warn_once(std::strerror(err));
  }

  /// Replaces a tracker that died (restarting it once, as CPython does).
  /// Returns the descriptor to use now, or -1.
  int restart(int failed_fd, unsigned seen_generation, bool number_lost) noexcept {
    std::lock_guard guard(lock_);
    const int current = fd_.load(std::memory_order_acquire);
    if (generation_.load(std::memory_order_acquire) != seen_generation || current != failed_fd)
      return current;  // another thread already replaced it
    posix::tracker_connection c;
    try {
      c = posix::start_tracker();
    } catch (const std::exception& e) {
      warn_once(e.what());
      return -1;
    }
    if (number_lost) {
      fd_.store(c.fd, std::memory_order_release);
    } else {
      // Keep the descriptor number: other threads may be sending on it.
      posix::tracker_replace_fd(c.fd, failed_fd);
    }
    pid_.store(c.pid, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    posix::tracker_warn(
        "multiprocessing resource_tracker: the tracker process died unexpectedly; "
        "started a new one. Shared memory registered before may leak.\n");
    return fd_.load(std::memory_order_acquire);
  }

  void warn_once(const char* why) noexcept {
    if (warned_.exchange(true)) return;
    posix::tracker_warn("multiprocessing resource_tracker: cannot track shared memory (");
    posix::tracker_warn(why);
    posix::tracker_warn("); segments of a process that is killed may be left in /dev/shm\n");
  }

  std::atomic<int> fd_{-1};
  std::atomic<pid_t> pid_{0};
  std::atomic<unsigned> generation_{0};
  std::atomic<bool> warned_{false};
  posix::fork_safe_lock lock_;
};

}  // namespace multiprocessing::detail
