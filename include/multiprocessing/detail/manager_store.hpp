#pragma once
// The storage of one manager container inside its data segment: a header,
// then a bump-allocated heap of blobs (serialized keys and values) and the
// arrays that index them (manager_table.hpp, manager_sequence.hpp).
//
// Crash safety. Every change to a word that readers can see goes through
// store::set, which first records the word's old value in an undo log in the
// header; an operation ends with commit() (the log emptied by one store).
// New blobs and arrays are written into free space past `used`, which no
// reader looks at, before the words that publish them change. So a process
// that dies anywhere inside an operation leaves either a committed state or
// an undo log that the next lock holder rolls back (manager_container.hpp):
// the container is as it was before that operation. An exception inside an
// operation rolls back the same way. Space freed by overwrites and erases is
// reclaimed when the container is copied into a new segment (compaction).
//
// All offsets are from the header's start; 0 means "none".

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <string>

#include <fmt/format.h>

#include "../exceptions.hpp"

namespace multiprocessing::detail {

/// Test hook: called at every step of a mutation (after each logged store),
/// so that a test can kill the process at an exact point. Null in programs.
inline void (*manager_fault_hook)(int step) = nullptr;

inline constexpr std::size_t store_log_capacity = 40;
inline constexpr std::uint64_t store_align = 8;

struct undo_entry {
  std::uint64_t offset;  // of the word; bit 0 set: a 32-bit word
  std::uint64_t old;
};

enum class store_shape : std::uint64_t { table = 1, sequence = 2 };

struct store_header {
  std::uint64_t capacity;      // bytes from the header's start backed by memory (committed)
  std::uint64_t shape;         // store_shape
  std::uint64_t used;          // bump pointer: everything past it is free
  std::uint64_t count;         // live items
  std::uint64_t entries;       // array of store_entry
  std::uint64_t entries_len;   // entries written (a table: live ones and holes)
  std::uint64_t entries_cap;
  std::uint64_t index;         // a table's slot array of uint32 (power-of-two length)
  std::uint64_t index_cap;
  std::uint64_t index_filled;  // slots not empty: live ones and tombstones
  std::uint64_t untouched;     // everything from here on was never written: reads as zero
  std::uint32_t packed_key;    // a packed table (nonzero): its keys' size (manager_table.hpp)
  std::uint32_t packed_value;  // and its values' size
  std::uint64_t log_count;     // nonzero: an operation is under way (or died)
  undo_entry log[store_log_capacity];
};

/// One item: its key's hash (tables) and its blob (0: an erased hole). In a
/// packed table, `hash` holds the key's bytes and `blob` the value's.
struct store_entry {
  std::uint64_t hash;
  std::uint64_t blob;
};

/// A blob: key bytes then value bytes, padded to store_align.
struct blob_header {
  std::uint32_t key_size;
  std::uint32_t value_size;
};

inline constexpr std::uint64_t align_up(std::uint64_t n) noexcept {
  return (n + store_align - 1) & ~(store_align - 1);
}
inline constexpr std::uint64_t store_first_free = align_up(sizeof(store_header));

/// Bytes a blob of these sizes takes in the heap.
inline constexpr std::uint64_t blob_bytes(std::size_t key, std::size_t value) noexcept {
  return align_up(sizeof(blob_header) + key + value);
}

/// The hash of a key's bytes: the same in every process (no seed).
inline std::uint64_t hash_bytes(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t h = 0x243f6a8885a308d3ULL ^ (n * 0x9e3779b97f4a7c15ULL);
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n != 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
  }
  h ^= h >> 31;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 29;
  return h;
}

/// hash_bytes of the `n` (at most 8) bytes of a word whose other bytes are zero.
inline std::uint64_t hash_word(std::uint64_t w, std::uint64_t n) noexcept {
  std::uint64_t h = 0x243f6a8885a308d3ULL ^ (n * 0x9e3779b97f4a7c15ULL);
  if (n == 8) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  } else if (n != 0) {
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
  }
  h ^= h >> 31;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 29;
  return h;
}

/// A view of one store (its header and heap) in this process's mapping.
class store {
 public:
  store() = default;
  store(std::byte* base, std::size_t size) noexcept
      : h_(reinterpret_cast<store_header*>(base)), size_(size) {}

  /// Lays out an empty store in fresh (zeroed) memory: `size` bytes mapped,
  /// the first `committed` of them backed.
  static store format(std::byte* base, std::size_t size, std::size_t committed,
                      store_shape shape, std::uint32_t packed_key = 0,
                      std::uint32_t packed_value = 0) noexcept {
    store s(base, size);
    s.h_->packed_key = packed_key;
    s.h_->packed_value = packed_value;
    s.h_->capacity = committed;
    s.h_->shape = static_cast<std::uint64_t>(shape);
    s.h_->used = store_first_free;
    s.h_->untouched = store_first_free;
    return s;
  }

  store_header& header() const noexcept { return *h_; }
  bool is_table() const noexcept { return h_->shape == static_cast<std::uint64_t>(store_shape::table); }
  bool packed() const noexcept { return h_->packed_key != 0; }
  std::uint64_t free_bytes() const noexcept { return h_->capacity - h_->used; }
  /// Bytes mapped: how far capacity may be raised without a new segment.
  std::size_t mapped_size() const noexcept { return size_; }
  /// Records that more of the mapping is backed (after committing it).
  void set_capacity(std::uint64_t capacity) noexcept {
    std::atomic_ref<std::uint64_t>(h_->capacity).store(capacity, std::memory_order_relaxed);
  }

  /// Checks what a process must trust before using a store someone else wrote.
  void validate(const std::string& name) const {
    const auto& h = *h_;
    if (size_ < store_first_free || h.capacity > size_ || h.capacity < store_first_free || h.used < store_first_free ||
        h.used > h.capacity || h.untouched > h.capacity || h.log_count > store_log_capacity ||
        h.packed_key > 8 || h.packed_value > 8 ||
        (h.packed_key != 0 && h.shape != static_cast<std::uint64_t>(store_shape::table)) ||
        (h.shape != static_cast<std::uint64_t>(store_shape::table) &&
         h.shape != static_cast<std::uint64_t>(store_shape::sequence)))
      throw ProcessError(fmt::format("manager storage '{}' is corrupt", name));
  }

  template <class T>
  T* at(std::uint64_t offset) const noexcept {
    return reinterpret_cast<T*>(reinterpret_cast<std::byte*>(h_) + offset);
  }
  store_entry* entries() const noexcept { return at<store_entry>(h_->entries); }
  std::uint32_t* index() const noexcept { return at<std::uint32_t>(h_->index); }

  /// Whether the next carve returns memory that reads as zero.
  bool free_space_zeroed() const noexcept { return h_->used >= h_->untouched; }
  /// Free space for n bytes (the caller made sure it exists); not yet published.
  std::uint64_t carve(std::uint64_t n) noexcept {
    const std::uint64_t off = h_->used;
    set(h_->used, off + align_up(n));
    // Not logged: a rolled-back carve leaves its bytes written. Raised before
    // the caller writes them (a crash must never leave written bytes past it).
    if (h_->untouched < h_->used)
      std::atomic_ref<std::uint64_t>(h_->untouched).store(h_->used, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return off;
  }
  /// Writes a blob into free space; returns its offset. Logs one word.
  std::uint64_t put_blob(std::span<const std::byte> key, std::span<const std::byte> value) noexcept {
    const std::uint64_t off = carve(blob_bytes(key.size(), value.size()));
    write_blob(off, key, value);
    return off;
  }
  /// Writes a blob at `off` in space already carved.
  void write_blob(std::uint64_t off, std::span<const std::byte> key,
                  std::span<const std::byte> value) noexcept {
    auto* b = at<blob_header>(off);
    b->key_size = static_cast<std::uint32_t>(key.size());
    b->value_size = static_cast<std::uint32_t>(value.size());
    auto* p = reinterpret_cast<std::byte*>(b + 1);
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
  }
  std::span<const std::byte> blob_key(std::uint64_t off) const noexcept {
    const auto* b = at<blob_header>(off);
    return {reinterpret_cast<const std::byte*>(b + 1), b->key_size};
  }
  std::span<const std::byte> blob_value(std::uint64_t off) const noexcept {
    const auto* b = at<blob_header>(off);
    return {reinterpret_cast<const std::byte*>(b + 1) + b->key_size, b->value_size};
  }
  std::uint64_t blob_size(std::uint64_t off) const noexcept {
    const auto* b = at<blob_header>(off);
    return blob_bytes(b->key_size, b->value_size);
  }

  /// Changes a published word, recording its old value first.
  void set(std::uint64_t& word, std::uint64_t value) noexcept {
    std::uint64_t& n = h_->log_count;
    // Every operation logs a bounded number of words (see its comment); more is a bug.
    if (n >= store_log_capacity) std::terminate();
    undo_entry& e = h_->log[n];
    e.offset = static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(&word) -
                                          reinterpret_cast<std::byte*>(h_));
    e.old = word;
    // Compiler barriers: a process may be killed between any two
    // instructions, so the log entry must be complete before it counts, and
    // counted before the word changes.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_ref<std::uint64_t>(n).store(n + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_ref<std::uint64_t>(word).store(value, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (manager_fault_hook != nullptr) manager_fault_hook(static_cast<int>(n));
  }
  /// set() for a 32-bit word (a table's index slot).
  void set(std::uint32_t& word, std::uint32_t value) noexcept {
    std::uint64_t& n = h_->log_count;
    if (n >= store_log_capacity) std::terminate();
    undo_entry& e = h_->log[n];
    e.offset = static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(&word) -
                                          reinterpret_cast<std::byte*>(h_)) |
               1;
    e.old = word;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_ref<std::uint64_t>(n).store(n + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_ref<std::uint32_t>(word).store(value, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (manager_fault_hook != nullptr) manager_fault_hook(static_cast<int>(n));
  }
  /// Ends an operation: its changes stay.
  void commit() noexcept {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_ref<std::uint64_t>(h_->log_count).store(0, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  /// Undoes the logged changes of an unfinished operation, newest first.
  /// Entries that point outside the store (only a corrupt log could) are skipped.
  void rollback() noexcept {
    std::uint64_t n = h_->log_count;
    if (n > store_log_capacity) n = store_log_capacity;
    while (n > 0) {
      --n;
      const undo_entry e = h_->log[n];
      if ((e.offset & 1) != 0) {
        const std::uint64_t off = e.offset & ~std::uint64_t{1};
        if (off % sizeof(std::uint32_t) == 0 && off + sizeof(std::uint32_t) <= size_)
          std::atomic_ref<std::uint32_t>(*at<std::uint32_t>(off))
              .store(static_cast<std::uint32_t>(e.old), std::memory_order_relaxed);
      } else if (e.offset % store_align == 0 && e.offset + sizeof(std::uint64_t) <= size_) {
        std::atomic_ref<std::uint64_t>(*at<std::uint64_t>(e.offset))
            .store(e.old, std::memory_order_relaxed);
      }
      std::atomic_signal_fence(std::memory_order_seq_cst);
      std::atomic_ref<std::uint64_t>(h_->log_count).store(n, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  }
  /// Room left in the undo log.
  std::size_t log_room() const noexcept { return store_log_capacity - h_->log_count; }

 private:
  store_header* h_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace multiprocessing::detail
