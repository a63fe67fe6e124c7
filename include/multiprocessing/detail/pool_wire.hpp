#pragma once
// Frames between the pool and its workers, on one socket per worker.
// parent -> worker: [u32 length][u64 entry id][entry input]   (id 0: stop)
// worker -> parent: [u32 length][u8 status][body]
//   status ok: the entry's output; error: a saved exception; ready: the
//   initializer ran (empty body).
// Reads are buffered: one read() takes every frame that has arrived.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <algorithm>
#include <optional>
#include <span>
#include <vector>

#include "../exceptions.hpp"
#include "pool_memory.hpp"
#include "posix/io.hpp"

namespace multiprocessing::detail {

enum class worker_status : std::uint8_t { ok = 0, error = 1, ready = 2 };

inline constexpr std::uint64_t stop_entry = 0;

/// Accumulates bytes from a stream and hands out whole frames.
class frame_buffer {
 public:
  /// Reads once (what is available, at most the free space, growing it for a
  /// large frame). Returns bytes read: 0 at end of file, -1 on error (errno).
  ssize_t fill(int fd) {
    compact();
    std::size_t want = 64 * 1024;
    if (auto need = pending_frame_size(); need && *need > end_ - begin_)
      want = std::max(want, *need - (end_ - begin_));
    if (size_ - end_ < want) grow(end_ + want);
    ssize_t r;
    do {
      r = posix::sys().read(fd, buf_.get() + end_, size_ - end_);
    } while (r < 0 && errno == EINTR);
    if (r > 0) end_ += static_cast<std::size_t>(r);
    return r;
  }

  /// The next complete frame's payload (valid until the next fill), or nullopt.
  std::optional<std::span<const std::byte>> next() {
    auto size = pending_frame_size();
    if (!size || *size > end_ - begin_) return std::nullopt;
    std::span<const std::byte> frame(buf_.get() + begin_ + 4, *size - 4);
    begin_ += *size;
    return frame;
  }

  bool empty() const noexcept { return begin_ == end_; }

 private:
  // Header plus payload of the frame at begin_, once its header is in.
  std::optional<std::size_t> pending_frame_size() const {
    if (end_ - begin_ < 4) return std::nullopt;
    std::uint32_t len;
    std::memcpy(&len, buf_.get() + begin_, 4);
    return std::size_t{len} + 4;
  }
  void compact() {
    if (begin_ == 0) return;
    if (begin_ != end_) std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }

  // Grows without zero-filling (a vector would clear every new byte first).
  void grow(std::size_t n) {
    n = std::max(n, size_ * 2);
    std::unique_ptr<std::byte[]> b(new std::byte[n]);
    pool_prefault(b.get(), n);
    if (end_ != 0) std::memcpy(b.get(), buf_.get(), end_);
    buf_ = std::move(b);
    size_ = n;
  }

  std::unique_ptr<std::byte[]> buf_;
  std::size_t size_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

/// Writes bytes to a socket; 0 or errno.
inline int send_all(int fd, std::span<const std::byte> data) noexcept {
  iovec iov{const_cast<std::byte*>(data.data()), data.size()};
  return posix::write_all(fd, &iov, 1, true);
}

}  // namespace multiprocessing::detail
