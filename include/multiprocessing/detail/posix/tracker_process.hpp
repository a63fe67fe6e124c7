#pragma once
// The resource tracker's helper process and the wire to it.
//
// The tracker holds one end of an AF_UNIX SOCK_SEQPACKET socket pair; the
// process that starts it keeps the other end, and every process forked from
// there on inherits it. The kernel reports end-of-file to the tracker only
// when the last process of that tree has closed its end — normal exit,
// exception, exec or SIGKILL alike — and then the tracker removes every name
// still registered and exits.
//
// Why a seqpacket socket and not a pipe: each message is one record, so
// messages from many writers never interleave whatever their size, and
// send(MSG_NOSIGNAL) reports a dead tracker as EPIPE instead of raising
// SIGPIPE in the user's process. Messages are "R <name>\n" (register) and
// "U <name>\n" (unregister), names with their leading '/'.
//
// The tracker is started with a double fork so that it is never a child of a
// user process: nothing of ours can wait for it, reap it by accident, or hold
// it as a zombie; when it exits, init (or a subreaper) reaps it.

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>

#include "../../exceptions.hpp"
#include "../config.hpp"
#include "fd.hpp"
#include "syscalls.hpp"

#if MULTIPROCESSING_LINUX
#include <sys/prctl.h>
#endif

namespace multiprocessing::detail::posix {

/// Longest message: "R " + a name of at most NAME_MAX bytes plus its '/' + "\n".
inline constexpr std::size_t tracker_message_max = 2 + 1 + 255 + 1;

/// The process name the tracker shows in ps and /proc (also matched by the
/// test suite's zombie check).
inline constexpr const char* tracker_process_name = "mp_tracker";

/// This process's end of the connection to a freshly started tracker.
struct tracker_connection {
  int fd = -1;
  pid_t pid = 0;
};

/// Writes all of `text` to stderr; errors are ignored (nowhere left to report them).
inline void tracker_warn(std::string_view text) noexcept {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

namespace tracker_detail {

inline void close_fds_from(int first) noexcept {
#if defined(SYS_close_range)
  if (::syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(dir);
    while (dirent* entry = ::readdir(dir)) {
      char* end = nullptr;
      long fd = std::strtol(entry->d_name, &end, 10);
      if (end != entry->d_name && *end == '\0' && fd >= first && fd != own)
        ::close(static_cast<int>(fd));
    }
    ::closedir(dir);
    return;
  }
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 1 << 16) max = 1 << 16;
  for (int fd = first; fd < max; ++fd) ::close(fd);
}

/// Signals that must not end the tracker before it has cleaned up: a Ctrl-C
/// or kill of the program, a hangup of its terminal, job control.
inline bool tracker_ignores(int sig) noexcept {
  return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGPIPE || sig == SIGQUIT ||
         sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

inline void reset_signals() noexcept {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // The parent's handlers point into code that must not run here.
    action.sa_handler = tracker_ignores(sig) ? SIG_IGN : SIG_DFL;
    ::sigaction(sig, &action, nullptr);  // fails for the C library's own signals: fine
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

/// Leaves the tracker holding only: the socket as fd 3, /dev/null as stdin
/// and stdout, and stderr for its warnings. Holding nothing else matters: a
/// pipe end kept open here would delay someone's end-of-file until we exit.
inline void keep_only_socket_and_stderr(int sock, int peer) noexcept {
  constexpr int kept = 3;
  if (sock != kept) {
    if (::dup2(sock, kept) < 0) ::_exit(127);
  }
  // A program that started with fd 2 closed may have our socket there.
  const bool stderr_unusable =
      sock == STDERR_FILENO || peer == STDERR_FILENO || ::fcntl(STDERR_FILENO, F_GETFD) < 0;
  const int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd < 0) {
    // No /dev/null (a bare chroot): closed is still better than held.
    ::close(STDIN_FILENO);
    ::close(STDOUT_FILENO);
    if (stderr_unusable) ::close(STDERR_FILENO);
  } else {
    if (null_fd != STDIN_FILENO) ::dup2(null_fd, STDIN_FILENO);
    if (null_fd != STDOUT_FILENO) ::dup2(null_fd, STDOUT_FILENO);
    if (stderr_unusable && null_fd != STDERR_FILENO) ::dup2(null_fd, STDERR_FILENO);
  }
  close_fds_from(kept + 1);  // also closes null_fd, the peer and the socket's old number
}

/// Removes every name still registered; warns like CPython's tracker when
/// there were some (a process ended without unlinking what it created).
inline void remove_leftovers(const std::unordered_set<std::string>& names) noexcept {
  std::size_t removed = 0;
  std::string listed;
  for (const std::string& name : names) {
    // ENOENT: someone unlinked it without telling us; nothing leaked.
    if (::shm_unlink(name.c_str()) != 0) continue;
    ++removed;
    try {
      if (removed <= 8) listed.append(" '").append(name).append("'");
    } catch (...) {
    }
  }
  if (removed == 0) return;
  char head[160];
  std::snprintf(head, sizeof head,
                "multiprocessing resource_tracker: there appear to be %zu leaked shared_memory "
                "objects to clean up at shutdown:",
                removed);
  tracker_warn(head);
  tracker_warn(listed);
  tracker_warn(removed > 8 ? " ...\n" : "\n");
}

inline void serve(int sock) noexcept {
  std::unordered_set<std::string> names;
  char buf[tracker_message_max + 1];
  for (;;) {
    ssize_t n = ::recv(sock, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;  // every writer is gone (we never send empty records)
    if (n < 4 || static_cast<std::size_t>(n) > tracker_message_max || buf[1] != ' ' ||
        buf[n - 1] != '\n')
      continue;
    std::string_view name(buf + 2, static_cast<std::size_t>(n) - 3);
    try {
      if (buf[0] == 'R')
        names.emplace(name);
      else if (buf[0] == 'U')
        names.erase(std::string(name));
    } catch (...) {
      // Out of memory in a process that owns nothing else: keep serving.
    }
  }
  remove_leftovers(names);
}

[[noreturn]] inline void tracker_main(int sock, int peer) noexcept {
  reset_signals();
  // Its own process group: a signal to the program's group does not reach it.
  ::setpgid(0, 0);
#if MULTIPROCESSING_LINUX
  ::prctl(PR_SET_NAME, tracker_process_name, 0, 0, 0);
#endif
  keep_only_socket_and_stderr(sock, peer);
  if (::chdir("/") != 0) {
    // Only keeps a mount point busy; harmless.
  }
  const pid_t me = ::getpid();
  // Tells the starter who we are; it is blocked reading this.
  (void)::send(3, &me, sizeof me, MSG_NOSIGNAL);
  serve(3);
  ::_exit(0);
}

}  // namespace tracker_detail

/// Starts a tracker process and returns this process's end of its socket
/// (close-on-exec) and the tracker's pid. Throws OSError("socketpair" / "fork").
inline tracker_connection start_tracker() {
  int sv[2];
  if (sys().socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    throw_os_error("socketpair", "resource tracker");
  unique_fd ours(sv[1]);
  unique_fd theirs(sv[0]);

  // No signal handler of the program may run in the children before they
  // have reset the handlers.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t middle = sys().fork();
  if (middle == 0) {
    const pid_t tracker = ::fork();
    if (tracker == 0) tracker_detail::tracker_main(theirs.get(), ours.get());
    ::_exit(tracker < 0 ? (errno & 0x7f) : 0);
  }
  const int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (middle < 0) throw_os_error("fork", fork_error, "resource tracker");
  theirs.reset();

  // Blocks until the tracker runs; end-of-file if it was never born.
  pid_t tracker = 0;
  const ssize_t got = retry_eintr([&] { return ::recv(ours.get(), &tracker, sizeof tracker, 0); });

  // Reap the middle process, unless SIGCHLD is ignored: then the kernel
  // reaps it, and waitpid would wait for every child of the program.
  struct sigaction chld {};
  ::sigaction(SIGCHLD, nullptr, &chld);
  int status = 0;
  bool reaped = false;
  if (chld.sa_handler != SIG_IGN && !(chld.sa_flags & SA_NOCLDWAIT))
    reaped = retry_eintr([&] { return ::waitpid(middle, &status, 0); }) == middle;

  if (got != static_cast<ssize_t>(sizeof tracker) || tracker <= 0) {
    int err = EAGAIN;
    if (reaped && WIFEXITED(status) && WEXITSTATUS(status) != 0) err = WEXITSTATUS(status);
    throw_os_error("fork", err, "resource tracker");
  }
  return {ours.release(), tracker};
}

/// Sends one message. Returns 0 or an errno value: EPIPE when the tracker is
/// gone, ETIMEDOUT when it accepted nothing for `timeout_ms` (a stopped
/// tracker must not hang the program).
inline int tracker_send(int fd, const char* message, std::size_t size,
                        int timeout_ms = 10'000) noexcept {
  timespec start{-1, 0};
  for (;;) {
    ssize_t n = ::send(fd, message, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(size)) return 0;
    if (n >= 0) return EIO;  // a seqpacket record is never sent in part
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    // The tracker is behind (or stopped): wait for room, within the bound.
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (start.tv_sec < 0) start = now;
    const long waited =
        (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1'000'000;
    if (waited >= timeout_ms) return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(timeout_ms - waited));
  }
}

/// Makes `target` refer to `replacement`'s socket (close-on-exec), so that a
/// descriptor number other threads may be using stays valid; closes `replacement`.
inline void tracker_replace_fd(int replacement, int target) noexcept {
#if MULTIPROCESSING_LINUX
  ::dup3(replacement, target, O_CLOEXEC);
#else
  ::dup2(replacement, target);
  ::fcntl(target, F_SETFD, FD_CLOEXEC);
#endif
  ::close(replacement);
}

/// True if fd is an open socket (an inherited tracker connection must be one).
inline bool tracker_is_socket(int fd) noexcept {
  struct stat st {};
  return fd >= 0 && ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

inline void tracker_set_cloexec(int fd) noexcept {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

inline void tracker_close(int fd) noexcept {
  if (fd >= 0) ::close(fd);
}

}  // namespace multiprocessing::detail::posix
