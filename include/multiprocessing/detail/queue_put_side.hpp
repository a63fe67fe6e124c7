#pragma once
// Writing messages into the ring. Every function here runs with the put
// lock held. A record is written first and published by storing tail past
// it, so a writer killed mid-record leaves nothing visible; a writer killed
// between the pieces of a long message leaves a prefix that readers drop.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "deadline.hpp"
#include "queue_layout.hpp"
#include "queue_ring.hpp"
#include "queue_wait.hpp"

namespace multiprocessing::detail {

/// What completing a message changes besides tail.
struct commit_effects {
  bool reserve_slot = false;      // bounded queue, direct put: take a slot now (may fail)
  bool from_buffer = false;       // the item was counted in `buffered`
  bool count_unfinished = false;  // JoinableQueue, direct put
};

enum class put_result { done, no_space, no_slot };

class put_side {
 public:
  explicit put_side(const ring_view& r) noexcept : r_(r), s_(r.shared()) {}

  /// Writes a message only if it fits now; never waits.
  put_result try_put(std::span<const std::byte> bytes, commit_effects fx) {
    if (record_bytes(bytes.size()) <= r_.whole_max()) return try_whole(bytes, fx);
    // Big messages on bounded queues take the feeder's path, which reserves
    // their slot up front; pieces cannot be taken back once published.
    if (fx.reserve_slot || free_bytes(pieces_need(bytes.size())) < pieces_need(bytes.size()))
      return put_result::no_space;
    write_pieces(bytes, fx);
    return put_result::done;
  }

  /// Writes a message, waiting for consumers to make room.
  void put_blocking(std::span<const std::byte> bytes, commit_effects fx) {
    if (record_bytes(bytes.size()) <= r_.whole_max()) {
      while (try_whole(bytes, fx) == put_result::no_space)
        wait_for_space(2 * record_bytes(bytes.size()));
      return;
    }
    write_pieces(bytes, fx);
  }

  /// Free bytes right now; reloads head only if the cached one says too few.
  std::uint64_t free_bytes(std::uint64_t want) {
    const std::uint64_t tail = s_.tail.load(std::memory_order_relaxed);
    std::uint64_t used = tail - s_.head_cache;
    if (used > r_.capacity() || r_.capacity() - used < want) {
      s_.head_cache = s_.head.load(std::memory_order_acquire);
      used = tail - s_.head_cache;
      if (used > r_.capacity()) queue_corrupt("head is past tail or a ring-size behind it");
    }
    return r_.capacity() - used;
  }

 private:
  // Worst case for a message sent in pieces all at once: headers, the
  // length field, rounding, one split at the end of the ring.
  std::uint64_t pieces_need(std::uint64_t n) const noexcept {
    return n + 64 + (n / r_.piece_max() + 3) * (sizeof(record_header) + record_align);
  }

  put_result try_whole(std::span<const std::byte> bytes, commit_effects fx) {
    const std::uint64_t need = record_bytes(bytes.size());
    std::uint64_t pos = s_.tail.load(std::memory_order_relaxed);
    const std::uint64_t to_end = r_.capacity() - r_.offset(pos);
    const std::uint64_t pad = to_end < need ? to_end : 0;
    if (free_bytes(pad + need) < pad + need) return put_result::no_space;
    if (pad != 0) {
      r_.write_header(pos, static_cast<std::uint32_t>(pad - sizeof(record_header)), rec_pad, 0);
      pos += pad;
    }
    r_.write_header(pos, static_cast<std::uint32_t>(bytes.size()), rec_whole, 0);
    if (!bytes.empty()) std::memcpy(r_.at(pos + sizeof(record_header)), bytes.data(), bytes.size());
    if (fx.reserve_slot && !reserve_slot()) return put_result::no_slot;  // written, never published
    publish(pos + need, fx, true);
    return put_result::done;
  }

  void write_pieces(std::span<const std::byte> bytes, commit_effects fx) {
    std::uint16_t msg = ++s_.next_msg;
    if (msg == 0) msg = ++s_.next_msg;
    const std::uint64_t total = bytes.size();
    std::uint64_t sent = 0;
    bool first = true;
    while (first || sent < total) {
      const std::uint64_t extra = first ? sizeof(std::uint64_t) : 0;
      const std::uint64_t left = total - sent;
      // The smallest useful record: its header, the length field, and some data.
      const std::uint64_t min_rec = sizeof(record_header) + extra + std::min<std::uint64_t>(left, 8);
      const std::uint64_t pos = s_.tail.load(std::memory_order_relaxed);
      const std::uint64_t to_end = r_.capacity() - r_.offset(pos);
      if (to_end < record_bytes(extra + std::min<std::uint64_t>(left, 8))) {
        // Too little room before the end for a useful piece: pad it out.
        while (free_bytes(to_end) < to_end) wait_for_space(to_end);
        r_.write_header(pos, static_cast<std::uint32_t>(to_end - sizeof(record_header)), rec_pad, 0);
        publish(pos + to_end, fx, false);
        continue;
      }
      std::uint64_t avail = free_bytes(min_rec + 8);
      if (avail < record_bytes(extra + std::min<std::uint64_t>(left, 8))) {
        wait_for_space(std::min<std::uint64_t>(r_.capacity() / 2, record_bytes(extra + left)));
        continue;
      }
      avail = std::min(avail, to_end);
      const std::uint64_t chunk =
          std::min({left, r_.piece_max() - extra, avail - sizeof(record_header) - extra});
      const auto len = static_cast<std::uint32_t>(chunk + extra);
      r_.write_header(pos, len, first ? rec_first : rec_more, msg);
      std::byte* out = r_.at(pos + sizeof(record_header));
      if (first) {
        std::memcpy(out, &total, sizeof total);
        out += sizeof total;
      }
      if (chunk != 0) std::memcpy(out, bytes.data() + sent, chunk);
      sent += chunk;
      first = false;
      publish(pos + record_bytes(len), fx, sent == total);
    }
  }

  bool reserve_slot() noexcept {
    std::int64_t v = s_.reserved.load(std::memory_order_relaxed);
    const auto max = static_cast<std::int64_t>(r_.maxsize());
    do {
      if (v >= max) return false;
    } while (!s_.reserved.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
    return true;
  }

  void publish(std::uint64_t new_tail, commit_effects fx, bool completes) noexcept {
    if (completes) {
      // Counted before tail moves, so a consumer never takes an item that is
      // not yet counted (qsize stays >= 0, task_done never runs ahead).
      s_.put_count.store(s_.put_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (fx.count_unfinished) s_.unfinished.fetch_add(1, std::memory_order_relaxed);
      if (fx.from_buffer) s_.buffered.fetch_sub(1, std::memory_order_relaxed);
    }
    s_.tail.store(new_tail, std::memory_order_seq_cst);
    flag_wake(s_.data_flag);
  }

  void wait_for_space(std::uint64_t want) {
    want = std::min(want, r_.capacity());
    flag_wait(s_.space_flag, deadline::never(), [&] {
      const std::uint64_t used =
          s_.tail.load(std::memory_order_relaxed) - s_.head.load(std::memory_order_seq_cst);
      return used > r_.capacity() || r_.capacity() - used >= want;  // corruption: let free_bytes throw
    });
  }

  const ring_view& r_;
  queue_shared& s_;
};

}  // namespace multiprocessing::detail
