#pragma once
/// Python's multiprocessing exceptions, as one C++ hierarchy under
/// mp::ProcessError (itself a std::runtime_error).

#include <cerrno>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace multiprocessing {

/// Base of every error the library raises (Python: multiprocessing.ProcessError).
class ProcessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failed system call: what() names the call, what it acted on and the errno text.
class OSError : public ProcessError {
 public:
  OSError(std::string_view call, std::error_code code, std::string_view detail = {})
      : ProcessError(detail.empty()
                         ? fmt::format("{} failed: {}", call, code.message())
                         : fmt::format("{} failed on {}: {}", call, detail, code.message())),
        call_(call),
        code_(code) {}
  /// The system call that failed, e.g. "shm_open".
  const std::string& call() const noexcept { return call_; }
  const std::error_code& code() const noexcept { return code_; }
  int errno_value() const noexcept { return code_.value(); }

 private:
  std::string call_;
  std::error_code code_;
};

/// recv_bytes_into() got a message larger than the buffer; the whole message
/// is kept in message() so nothing is lost (Python: e.args[0]).
class BufferTooShort : public ProcessError {
 public:
  explicit BufferTooShort(std::vector<std::byte> message)
      : ProcessError(fmt::format("buffer too short for a message of {} bytes", message.size())),
        message_(std::move(message)) {}
  const std::vector<std::byte>& message() const noexcept { return message_; }

 private:
  std::vector<std::byte> message_;
};

class AuthenticationError : public ProcessError {
  using ProcessError::ProcessError;
};
class TimeoutError : public ProcessError {
 public:
  TimeoutError() : ProcessError("timed out") {}
  using ProcessError::ProcessError;
};
/// Queue::get on an empty queue without waiting, or after the timeout.
class Empty : public ProcessError {
 public:
  Empty() : ProcessError("queue is empty") {}
  using ProcessError::ProcessError;
};
/// Queue::put on a full queue without waiting, or after the timeout.
class Full : public ProcessError {
 public:
  Full() : ProcessError("queue is full") {}
  using ProcessError::ProcessError;
};
/// The peer of a Connection is gone.
class EOFError : public ProcessError {
 public:
  EOFError() : ProcessError("end of file: the other end of the connection is closed") {}
  using ProcessError::ProcessError;
};
class ValueError : public ProcessError {
  using ProcessError::ProcessError;
};
/// Bytes that do not decode as the requested type: malformed, truncated,
/// hostile, or another type's message.
class UnpicklingError : public ProcessError {
  using ProcessError::ProcessError;
};
/// An exception raised in another process whose type cannot be rebuilt here.
class RemoteError : public ProcessError {
 public:
  RemoteError(std::string type_name, std::string message)
      : ProcessError(fmt::format("{}: {}", type_name, message)), type_name_(std::move(type_name)) {}
  /// The original exception's type name, e.g. "MyError".
  const std::string& type_name() const noexcept { return type_name_; }

 private:
  std::string type_name_;
};
/// A pool worker died (signal, _exit, SIGKILL) while it ran the task.
class WorkerLostError : public ProcessError {
  using ProcessError::ProcessError;
};
/// A process-pool executor whose worker died: every pending future fails with this.
class BrokenProcessPool : public ProcessError {
  using ProcessError::ProcessError;
};
class CancelledError : public ProcessError {
 public:
  CancelledError() : ProcessError("the future was cancelled") {}
  using ProcessError::ProcessError;
};
class BrokenBarrierError : public ProcessError {
 public:
  BrokenBarrierError() : ProcessError("the barrier is broken") {}
  using ProcessError::ProcessError;
};

namespace detail {

/// Throws OSError for `call` with the current errno.
[[noreturn]] inline void throw_os_error(std::string_view call, std::string_view detail = {}) {
  throw OSError(call, std::error_code(errno, std::generic_category()), detail);
}
[[noreturn]] inline void throw_os_error(std::string_view call, int err, std::string_view detail) {
  throw OSError(call, std::error_code(err, std::generic_category()), detail);
}

}  // namespace detail
}  // namespace multiprocessing
