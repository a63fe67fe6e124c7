#pragma once
// Signal handling of pool workers: they ignore SIGINT (Ctrl-C goes to the
// whole process group; the parent decides, as Python's workers do), and a
// worker's death is described by the name of the signal that ended it.

#include <signal.h>
#include <string.h>

#include <string>

#include <fmt/format.h>

namespace multiprocessing::detail::posix {

/// Makes this process ignore sig.
inline void ignore_signal(int sig) noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigemptyset(&action.sa_mask);
  ::sigaction(sig, &action, nullptr);
}

/// "SIGSEGV" for 11; "signal 77" when the name is unknown.
inline std::string signal_name(int sig) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* abbrev = ::sigabbrev_np(sig)) return fmt::format("SIG{}", abbrev);
#endif
  return fmt::format("signal {}", sig);
}

}  // namespace multiprocessing::detail::posix
