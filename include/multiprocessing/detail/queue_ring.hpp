#pragma once
// A process's view of one queue ring: where the header and the bytes are
// mapped, the geometry checked once when mapped (so a later corruption of
// the shared capacity cannot make us index out of the mapping), and the
// checks every operation runs on what it reads from shared memory.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "arena.hpp"
#include "queue_layout.hpp"

namespace multiprocessing::detail {

/// A corrupt ring (bad magic, impossible positions or lengths) is an error,
/// never a crash or an endless wait.
[[noreturn]] inline void queue_corrupt(std::string_view why) {
  throw ProcessError(fmt::format("queue is corrupt: {}", why));
}

class ring_view {
 public:
  ring_view() = default;

  /// Checks the header of a mapped queue segment; ProcessError if it is not
  /// a queue of `kind` holding items of type `item_type`.
  ring_view(const shared_ref<queue_shared>& ref, queue_kind kind, std::uint64_t item_type) {
    queue_shared* s = ref.get();
    if (s->magic != queue_magic) queue_corrupt(fmt::format("bad magic in '{}'", ref.name()));
    const std::uint64_t cap = s->capacity;
    if (cap < min_ring_capacity || cap > max_ring_capacity || (cap & (cap - 1)) != 0 ||
        cap > ref.extra_size())
      queue_corrupt(fmt::format("impossible ring capacity {} in '{}'", cap, ref.name()));
    if (s->kind != kind)
      throw ProcessError(fmt::format("'{}' is another kind of queue (Queue, SimpleQueue and "
                                     "JoinableQueue do not convert)",
                                     ref.name()));
    if (s->item_type != item_type)
      throw ProcessError(fmt::format("'{}' is a queue of another item type", ref.name()));
    s_ = s;
    data_ = ref.extra();
    cap_ = cap;
    maxsize_ = s->maxsize;
  }

  queue_shared& shared() const noexcept { return *s_; }
  std::byte* data() const noexcept { return data_; }
  std::uint64_t capacity() const noexcept { return cap_; }
  std::uint64_t mask() const noexcept { return cap_ - 1; }
  std::uint64_t maxsize() const noexcept { return maxsize_; }
  /// A message whose record is at most this many bytes goes as one record.
  std::uint64_t whole_max() const noexcept { return cap_ / 4; }
  /// Largest payload of one piece of a longer message.
  std::uint64_t piece_max() const noexcept { return cap_ / 4 - sizeof(record_header); }

  void check() const {
    if (s_->magic != queue_magic) queue_corrupt("bad magic");
  }

  std::uint64_t offset(std::uint64_t pos) const noexcept { return pos & (cap_ - 1); }
  std::byte* at(std::uint64_t pos) const noexcept { return data_ + offset(pos); }

  void write_header(std::uint64_t pos, std::uint32_t len, record_kind kind,
                    std::uint16_t msg) const noexcept {
    const record_header h{len, kind, record_check, msg};
    std::memcpy(at(pos), &h, sizeof h);
  }

  /// The header at pos, checked against the readable bytes [pos, tail).
  record_header read_header(std::uint64_t pos, std::uint64_t tail) const {
    const std::uint64_t avail = tail - pos;
    if (avail > cap_) queue_corrupt(fmt::format("{} unread bytes in a ring of {}", avail, cap_));
    if (avail < sizeof(record_header) || pos % record_align != 0)
      queue_corrupt("a record is cut short");
    record_header h;
    std::memcpy(&h, at(pos), sizeof h);
    if (h.check != record_check || h.kind < rec_whole || h.kind > rec_pad)
      queue_corrupt("bad record header");
    const std::uint64_t bytes = record_bytes(h.len);
    if (bytes > avail || offset(pos) + bytes > cap_)
      queue_corrupt(fmt::format("record of {} bytes does not fit where it is", h.len));
    if (h.kind == rec_pad && offset(pos) + bytes != cap_) queue_corrupt("pad record not at the end");
    return h;
  }

 private:
  queue_shared* s_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t maxsize_ = 0;
};

}  // namespace multiprocessing::detail
