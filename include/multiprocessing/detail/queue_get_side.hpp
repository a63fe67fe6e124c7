#pragma once
// Taking messages out of the ring. take() runs with the get lock held. A
// whole record is decoded straight from the ring and only then released;
// a message in pieces is assembled here, and dropped (it is lost) if its
// writer dies before the last piece: the reader notices that the put lock's
// owner is gone, or that a new message starts where the next piece should.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "deadline.hpp"
#include "posix/thread_id.hpp"
#include "queue_layout.hpp"
#include "queue_ring.hpp"
#include "queue_wait.hpp"

namespace multiprocessing::detail {

class get_side {
 public:
  explicit get_side(const ring_view& r) noexcept : r_(r), s_(r.shared()) {}

  /// Whether a record is waiting (callable without the lock).
  bool has_data() const noexcept {
    return s_.tail.load(std::memory_order_seq_cst) != s_.head.load(std::memory_order_seq_cst);
  }

  /// Takes the next message and returns decode(its bytes); nullopt if there
  /// is no complete message after all (another consumer took it, or only
  /// the remains of a message whose writer or reader died). A message whose
  /// bytes do not decode is consumed, and decode's exception propagates.
  template <class Decode>
  auto take(Decode&& decode)
      -> std::optional<std::invoke_result_t<Decode&, std::span<const std::byte>>> {
    using R = std::invoke_result_t<Decode&, std::span<const std::byte>>;
    for (;;) {
      const std::uint64_t head = s_.head.load(std::memory_order_relaxed);
      const std::uint64_t tail = readable_end(head);
      if (tail == head) return std::nullopt;
      const record_header h = r_.read_header(head, tail);
      const std::uint64_t next = head + record_bytes(h.len);
      switch (h.kind) {
        case rec_whole: {
          std::optional<R> out;
          try {
            out.emplace(decode(std::span<const std::byte>(r_.at(head + sizeof h), h.len)));
          } catch (...) {
            consume(next, true);
            throw;
          }
          consume(next, true);
          return out;
        }
        case rec_first:
          return assemble<R>(head, h, decode);
        default:  // a pad, or the rest of a message whose reader died: skip
          consume(next, false);
          break;
      }
    }
  }

 private:
  // The end of what may be read, from the cached tail when it shows data.
  std::uint64_t readable_end(std::uint64_t head) {
    const std::uint64_t cached = s_.tail_cache;
    if (cached != head && cached - head <= r_.capacity()) return cached;
    return s_.tail_cache = s_.tail.load(std::memory_order_acquire);
  }

  template <class R, class Decode>
  std::optional<R> assemble(std::uint64_t head, record_header h, Decode& decode) {
    if (h.len < sizeof(std::uint64_t)) queue_corrupt("first piece without a length");
    std::uint64_t total;
    std::memcpy(&total, r_.at(head + sizeof h), sizeof total);
    const std::uint64_t first_data = h.len - sizeof total;
    if (total > max_message_bytes || total < first_data)
      queue_corrupt(fmt::format("impossible message length {}", total));
    const std::uint16_t msg = h.msg;
    std::vector<std::byte> buf;
    // Reserving is only address space until pieces arrive; past 1 GiB grow
    // as they do, so that a bogus length cannot exhaust it.
    buf.reserve(std::min<std::uint64_t>(total, std::uint64_t{1} << 30));
    append(buf, head + sizeof h + sizeof total, first_data);
    head += record_bytes(h.len);
    consume(head, buf.size() == total);
    while (buf.size() < total) {
      const std::uint64_t tail = readable_end(head);
      if (tail == head) {
        const bool more = flag_wait(
            s_.data_flag, deadline::never(),
            [&] { return s_.tail.load(std::memory_order_seq_cst) != head; },
            [&] { return writer_gone(); });
        if (!more && s_.tail.load(std::memory_order_seq_cst) == head) return std::nullopt;
        continue;
      }
      const record_header p = r_.read_header(head, tail);
      const std::uint64_t next = head + record_bytes(p.len);
      if (p.kind == rec_pad) {
        consume(next, false);
        head = next;
        continue;
      }
      // The writer died and someone else's message follows: ours is lost.
      if (p.kind != rec_more || p.msg != msg) return std::nullopt;
      if (p.len > total - buf.size()) queue_corrupt("a piece runs past the end of its message");
      append(buf, head + sizeof p, p.len);
      head = next;
      consume(head, buf.size() == total);
    }
    return std::optional<R>(decode(std::span<const std::byte>(buf.data(), buf.size())));
  }

  void append(std::vector<std::byte>& buf, std::uint64_t pos, std::uint64_t n) {
    const std::byte* p = r_.at(pos);
    buf.insert(buf.end(), p, p + n);
  }

  // A live writer holds the put lock from the first piece to the last.
  bool writer_gone() const noexcept {
    const std::uint32_t owner = s_.put_lock.owner();
    std::atomic_thread_fence(std::memory_order_acquire);  // then see what it published before unlocking
    return owner == 0 || posix::thread_is_gone(static_cast<pid_t>(owner));
  }

  void consume(std::uint64_t new_head, bool completes) noexcept {
    if (completes) {
      s_.get_count.store(s_.get_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (r_.maxsize() != 0) s_.reserved.fetch_sub(1, std::memory_order_seq_cst);
    }
    s_.head.store(new_head, std::memory_order_seq_cst);
    flag_wake(s_.space_flag);
  }

  const ring_view& r_;
  queue_shared& s_;
};

}  // namespace multiprocessing::detail
