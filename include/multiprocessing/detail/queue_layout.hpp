#pragma once
// The shared object behind Queue, SimpleQueue and JoinableQueue: a header
// (this struct) followed, in the same segment, by a byte ring of `capacity`
// bytes (a power of two).
//
// The ring holds records, each an 8-byte record_header and its payload
// rounded up to 8 bytes. Positions (head, tail) count bytes since creation
// and never wrap; a record never wraps either: a writer that would cross the
// end of the ring first fills the rest with a pad record. A message that
// fits in a quarter of the ring is one `whole` record, decoded straight from
// the ring; a larger one is a `first` record (its total length, then data)
// followed by `more` records, all carrying one message id, written while the
// writer holds the put lock, so pieces of two messages never interleave.
//
// Producers serialize on put_lock and only ever move `tail`; consumers
// serialize on get_lock and only ever move `head`; each side caches the
// other's position so that a put or get that finds room or data touches no
// cache line of the other side but that one position. A record becomes
// visible only when tail is stored past it, so a producer that dies while
// writing leaves nothing half-written behind (see queues.hpp for what a
// crash loses).

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "robust_mutex.hpp"

namespace multiprocessing::detail {

/// "MPCPPQU1": checked on attach and at the start of every operation.
inline constexpr std::uint64_t queue_magic = 0x315551505043504DULL;

enum class queue_kind : std::uint32_t { queue = 1, simple = 2, joinable = 3 };

enum record_kind : std::uint8_t { rec_whole = 1, rec_first = 2, rec_more = 3, rec_pad = 4 };

/// Second byte of every record header: a cheap guard against reading garbage.
inline constexpr std::uint8_t record_check = 0xA5;

struct record_header {
  std::uint32_t len;   // payload bytes that follow the header
  std::uint8_t kind;   // record_kind
  std::uint8_t check;  // record_check
  std::uint16_t msg;   // id of a multi-piece message (0 for whole and pad)
};
static_assert(sizeof(record_header) == 8);

inline constexpr std::uint64_t record_align = 8;

/// Bytes a record with `len` payload bytes takes in the ring.
constexpr std::uint64_t record_bytes(std::uint64_t len) noexcept {
  return sizeof(record_header) + ((len + record_align - 1) & ~(record_align - 1));
}

/// Default ring size: 1 MiB holds 65536 small messages, so a producer
/// rarely waits for a consumer to catch up.
inline constexpr std::uint64_t default_ring_capacity = std::uint64_t{1} << 20;
inline constexpr std::uint64_t min_ring_capacity = 4096;
inline constexpr std::uint64_t max_ring_capacity = std::uint64_t{1} << 32;

/// Largest total length a `first` record may announce (the reader grows its
/// buffer as pieces arrive, so this only rejects nonsense).
inline constexpr std::uint64_t max_message_bytes = std::uint64_t{1} << 44;

struct queue_shared {
  // Set once by the creator.
  std::uint64_t magic;
  std::uint64_t item_type;  // type_hash of the item type
  std::uint64_t capacity;   // ring bytes
  std::uint64_t maxsize;    // 0: unbounded
  queue_kind kind;

  // Producers' line: touched under put_lock only (put_count is also read by qsize).
  alignas(64) robust_mutex put_lock;
  std::uint64_t head_cache = 0;  // a head value seen earlier: never ahead of head
  std::atomic<std::uint64_t> put_count{0};  // messages completed in the ring
  std::uint16_t next_msg = 0;

  // Written by producers, polled by consumers.
  alignas(64) std::atomic<std::uint64_t> tail{0};

  // Consumers' line: touched under get_lock only (get_count is also read by qsize).
  alignas(64) robust_mutex get_lock;
  std::uint64_t tail_cache = 0;  // a tail value seen earlier: never ahead of tail
  std::atomic<std::uint64_t> get_count{0};  // messages taken out

  // Written by consumers, read by producers when their cache says "full".
  alignas(64) std::atomic<std::uint64_t> head{0};

  // Sleep flags: a waiter stores 1 and sleeps on the word; whoever changes
  // what it waits for exchanges it back to 0 and wakes everyone only if it
  // was 1, so no syscall happens while nobody sleeps.
  alignas(64) std::atomic<std::uint32_t> data_flag{0};   // consumers: data or a piece
  alignas(64) std::atomic<std::uint32_t> space_flag{0};  // producers: ring space or a slot
  std::atomic<std::uint32_t> join_flag{0};               // JoinableQueue::join

  // Counters shared by both sides.
  alignas(64) std::atomic<std::int64_t> reserved{0};    // bounded: slots taken (Python's semaphore)
  std::atomic<std::int64_t> buffered{0};                // items in producers' local buffers
  std::atomic<std::int64_t> unfinished{0};              // JoinableQueue: put minus task_done

  queue_shared(std::uint64_t item, std::uint64_t cap, std::uint64_t max, queue_kind k) noexcept
      : magic(queue_magic), item_type(item), capacity(cap), maxsize(max), kind(k) {}
};

}  // namespace multiprocessing::detail
