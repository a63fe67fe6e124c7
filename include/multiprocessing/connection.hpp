#pragma once
/// mp::Pipe and mp::Connection (Python's multiprocessing.connection), and
/// connection::wait over connections and process sentinels.

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>

#include <fcntl.h>
#include <fmt/format.h>
#include <vector>

#include "detail/posix/fd.hpp"
#include "detail/posix/io.hpp"
#include "detail/posix/syscalls.hpp"
#include "detail/wire.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"

namespace multiprocessing {

/// One end of a Pipe: sends and receives whole messages. Move-only owner of
/// its descriptor; it may be given (moved) to a Process, which closes it here
/// once the child has started.
class Connection {
 public:
  Connection() = default;
  /// Takes ownership of fd.
  Connection(int fd, bool readable, bool writable)
      : fd_(fd), readable_(readable), writable_(writable), socket_(detail::posix::is_socket(fd)) {}
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection() = default;

  /// Sends one value as one message (Python: send(obj)).
  template <Transferable T>
  void send(const T& value) {
    auto bytes = dumps(value);
    send_bytes(std::span<const std::byte>(bytes));
  }
  /// Receives one value. EOFError when the peer is gone; UnpicklingError if
  /// the message is not a T.
  template <Transferable T>
  T recv() {
    auto bytes = recv_bytes();
    return loads<T>(std::span<const std::byte>(bytes));
  }

  /// Sends bytes as one message; blocks until the kernel took them all.
  void send_bytes(std::span<const std::byte> data) {
    check_writable();
    std::byte header[detail::wire::max_header];
    const std::size_t hlen = detail::wire::encode_header(data.size(), header);
    iovec iov[2] = {{header, hlen}, {const_cast<std::byte*>(data.data()), data.size()}};
    if (int err = detail::posix::write_all(fd_.get(), iov, data.empty() ? 1 : 2, socket_))
      detail::throw_os_error(socket_ ? "sendmsg" : "writev", err, "connection");
  }
  void send_bytes(std::string_view data) {
    send_bytes(std::as_bytes(std::span<const char>(data.data(), data.size())));
  }
  /// Python's send_bytes(buf, offset, size).
  void send_bytes(std::span<const std::byte> data, std::size_t offset,
                  std::optional<std::size_t> size = std::nullopt) {
    if (offset > data.size()) throw ValueError("offset is larger than the buffer");
    std::size_t n = size.value_or(data.size() - offset);
    if (n > data.size() - offset) throw ValueError("buffer is shorter than offset + size");
    send_bytes(data.subspan(offset, n));
  }

  /// Receives one message. EOFError when the peer is gone; ValueError if it
  /// is longer than maxlength (the message stays queued for a larger read).
  std::vector<std::byte> recv_bytes(std::optional<std::size_t> maxlength = std::nullopt) {
    check_readable();
    const std::uint64_t length = next_length();
    if (maxlength && length > *maxlength)
      throw ValueError(fmt::format("message of {} bytes is longer than maxlength {}", length,
                                   *maxlength));
    return read_payload(length);
  }

  /// Receives one message into buf; returns its size. BufferTooShort (with the
  /// whole message) if buf is too small.
  std::size_t recv_bytes_into(std::span<std::byte> buf) {
    check_readable();
    const std::uint64_t length = next_length();
    if (length > buf.size()) throw BufferTooShort(read_payload(length));
    read_exactly(buf.data(), static_cast<std::size_t>(length));
    pending_.reset();
    return static_cast<std::size_t>(length);
  }

  /// Whether a message (or end of file) can be read now.
  bool poll() { return poll_impl(std::chrono::nanoseconds::zero()); }
  /// Waits at most timeout for data.
  template <class Rep, class Period>
  bool poll(std::chrono::duration<Rep, Period> timeout) {
    return poll_impl(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }

  void close() noexcept { fd_.reset(); }
  bool closed() const noexcept { return !fd_; }
  bool readable() const noexcept { return readable_; }
  bool writable() const noexcept { return writable_; }
  /// The descriptor, for poll/select. ValueError when closed.
  int fileno() const {
    check_open();
    return fd_.get();
  }

  /// A Connection moved into a Process belongs to the child from then on.
  friend void mp_after_start_in_parent(Connection& c) noexcept { c.close(); }

 private:
  void check_open() const {
    if (!fd_) throw ValueError("handle is closed");
  }
  void check_readable() const {
    check_open();
    if (!readable_) throw ValueError("connection is write-only");
  }
  void check_writable() const {
    check_open();
    if (!writable_) throw ValueError("connection is read-only");
  }

  bool poll_impl(std::optional<std::chrono::nanoseconds> timeout) {
    check_readable();
    if (pending_) return true;
    return detail::posix::wait_readable(fd_.get(), timeout);
  }

  // A header read by a recv_bytes that refused the message (maxlength) is
  // kept, so the next read gets the message instead of losing it.
  std::uint64_t next_length() {
    if (pending_) return *pending_;
    auto len = detail::wire::read_header(fd_.get());
    if (!len) throw EOFError();
    pending_ = *len;
    return *len;
  }

  // Grows the buffer as bytes arrive, so a lying length field cannot make us
  // allocate more than the peer really sent (plus one step).
  std::vector<std::byte> read_payload(std::uint64_t length) {
    constexpr std::uint64_t step = std::uint64_t{64} << 20;
    std::vector<std::byte> out;
    std::uint64_t got = 0;
    while (got < length) {
      const std::uint64_t want = std::min(length, got == 0 ? step : std::max(got * 2, step));
      out.resize(static_cast<std::size_t>(want));
      read_exactly(out.data() + got, static_cast<std::size_t>(want - got));
      got = want;
    }
    pending_.reset();
    return out;
  }

  void read_exactly(std::byte* p, std::size_t n) {
    ssize_t r = detail::posix::read_full(fd_.get(), p, n);
    if (r < 0) detail::throw_os_error("read", "connection");
    if (static_cast<std::size_t>(r) < n) {
      pending_.reset();
      throw EOFError("got end of file during message");
    }
  }

  detail::posix::unique_fd fd_;
  bool readable_ = false;
  bool writable_ = false;
  bool socket_ = false;
  std::optional<std::uint64_t> pending_;
};

/// Two connected Connections. duplex: both ends read and write (a socket
/// pair); otherwise {receive-only, send-only} (a pipe).
inline std::pair<Connection, Connection> Pipe(bool duplex = true) {
  int fds[2];
  if (duplex) {
    if (detail::posix::sys().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      detail::throw_os_error("socketpair");
    return {Connection(fds[0], true, true), Connection(fds[1], true, true)};
  }
  if (detail::posix::sys().pipe2(fds, O_CLOEXEC) != 0) detail::throw_os_error("pipe2");
  return {Connection(fds[0], true, false), Connection(fds[1], false, true)};
}

namespace connection {

namespace detail {
inline int fileno_of(const Connection* c) { return c->fileno(); }
inline int fileno_of(const Connection& c) { return c.fileno(); }
inline int fileno_of(std::reference_wrapper<Connection> c) { return c.get().fileno(); }
inline int fileno_of(std::reference_wrapper<const Connection> c) { return c.get().fileno(); }
inline int fileno_of(int fd) { return fd; }
template <class... Ts>
int fileno_of(const std::variant<Ts...>& v) {
  return std::visit([](const auto& x) { return fileno_of(x); }, v);
}

template <class Range>
auto wait_impl(const Range& objects, std::optional<std::chrono::nanoseconds> timeout) {
  using T = std::decay_t<decltype(*std::begin(objects))>;
  std::vector<T> items(std::begin(objects), std::end(objects));
  std::vector<pollfd> fds;
  fds.reserve(items.size());
  for (const auto& x : items) fds.push_back(pollfd{fileno_of(x), POLLIN, 0});
  using clock = std::chrono::steady_clock;
  const auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
  for (;;) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout) {
      auto left = std::max<clock::duration>(deadline - clock::now(), clock::duration::zero());
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts = timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      tsp = &ts;
    }
    int r = ::ppoll(fds.data(), fds.size(), tsp, nullptr);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ::multiprocessing::detail::throw_os_error("ppoll", "connection::wait");
    std::vector<T> ready;
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents != 0) ready.push_back(items[i]);
    return ready;
  }
}
}  // namespace detail

/// The objects of `objects` that are ready: Connections with data or end of
/// file, sentinels of ended processes. Elements may be Connection*,
/// std::reference_wrapper<Connection>, int descriptors/sentinels, or a
/// std::variant of those. Blocks until at least one is ready.
template <class Range>
auto wait(const Range& objects) {
  return detail::wait_impl(objects, std::nullopt);
}
/// As wait(objects), but returns an empty list after `timeout`.
template <class Range, class Rep, class Period>
auto wait(const Range& objects, std::chrono::duration<Rep, Period> timeout) {
  return detail::wait_impl(objects, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
}
/// As Python's wait(objects, timeout=None): an empty optional blocks.
template <class Range, class Rep, class Period>
auto wait(const Range& objects, std::optional<std::chrono::duration<Rep, Period>> timeout) {
  std::optional<std::chrono::nanoseconds> t;
  if (timeout) t = std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout);
  return detail::wait_impl(objects, t);
}
template <class Range>
auto wait(const Range& objects, std::nullopt_t) {
  return detail::wait_impl(objects, std::nullopt);
}
template <class T>
std::vector<T> wait(std::initializer_list<T> objects) {
  return detail::wait_impl(objects, std::nullopt);
}
template <class T, class Rep, class Period>
std::vector<T> wait(std::initializer_list<T> objects, std::chrono::duration<Rep, Period> timeout) {
  return detail::wait_impl(objects, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
}

}  // namespace connection
}  // namespace multiprocessing
