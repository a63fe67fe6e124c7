#pragma once
// Message framing on a stream: a 4-byte little-endian length, or 0xFFFFFFFF
// followed by an 8-byte length for messages of 4 GiB - 1 and more (CPython's
// connection.py does the same with -1 and "!Q").

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "../exceptions.hpp"
#include "posix/io.hpp"

namespace multiprocessing::detail::wire {

inline constexpr std::uint32_t long_marker = 0xFFFFFFFFu;
inline constexpr std::size_t max_header = 12;

/// Writes the header for a message of `length` bytes; returns its size.
inline std::size_t encode_header(std::uint64_t length, std::byte (&out)[max_header]) noexcept {
  if (length < long_marker) {
    auto l = static_cast<std::uint32_t>(length);
    std::memcpy(out, &l, 4);
    return 4;
  }
  std::memcpy(out, &long_marker, 4);
  std::memcpy(out + 4, &length, 8);
  return 12;
}

/// Reads one header. nullopt at a clean end of file (no byte of a new
/// message); EOFError if the stream ends inside the header.
inline std::optional<std::uint64_t> read_header(int fd) {
  std::uint32_t short_len = 0;
  ssize_t r = posix::read_full(fd, &short_len, 4);
  if (r < 0) throw_os_error("read", "connection");
  if (r == 0) return std::nullopt;
  if (r < 4) throw EOFError("got end of file during message header");
  if (short_len != long_marker) return short_len;
  std::uint64_t len = 0;
  r = posix::read_full(fd, &len, 8);
  if (r < 0) throw_os_error("read", "connection");
  if (r < 8) throw EOFError("got end of file during message header");
  return len;
}

}  // namespace multiprocessing::detail::wire
