#pragma once
// A hash table in a store (dict, set, Namespace), laid out as CPython's
// compact dict: an entries array in insertion order (so keys() comes back in
// the order keys were first set, as in Python) and an open-addressing slot
// array of entry numbers (linear probing, at most two thirds full). Keys are
// equal when their serialized bytes are.
//
// A packed table (keys and values of a fixed size of at most 8 bytes, such
// as ints) keeps each item in its entry: the key's bytes in `hash`, the
// value's in `blob`, no blob in the heap, the hash computed again when
// needed. An erased item's entry stays as it was; it is a hole because no
// index slot leads to it any more (entry_live).
//
// Every function that changes the table says how many words it logs; none
// may exceed store_log_capacity. The caller holds the container's lock and
// has reserved the bytes the matching *_need function returns.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "manager_store.hpp"

namespace multiprocessing::detail {

// Index slots are 32-bit (half the memory to back and clear of 64-bit ones).
inline constexpr std::uint32_t slot_empty = 0;
inline constexpr std::uint32_t slot_tombstone = 1;
inline constexpr std::uint32_t slot_first_entry = 2;  // slot value = entry number + 2
/// Most items a table holds (its entry numbers must fit a slot).
inline constexpr std::uint64_t table_max_items = std::uint64_t{1} << 30;

inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

/// A packed key or value: its bytes in the low bytes of a word, the rest zero.
inline std::uint64_t packed_word(std::span<const std::byte> bytes) noexcept {
  std::uint64_t w = 0;
  if (!bytes.empty()) std::memcpy(&w, bytes.data(), bytes.size() < 8 ? bytes.size() : 8);
  return w;
}
inline std::span<const std::byte> packed_bytes(const std::uint64_t& w, std::uint32_t size) noexcept {
  return {reinterpret_cast<const std::byte*>(&w), size};
}

inline std::span<const std::byte> entry_key(const store& s, const store_entry& e) noexcept {
  return s.packed() ? packed_bytes(e.hash, s.header().packed_key) : s.blob_key(e.blob);
}
inline std::span<const std::byte> entry_value(const store& s, const store_entry& e) noexcept {
  return s.packed() ? packed_bytes(e.blob, s.header().packed_value) : s.blob_value(e.blob);
}
/// The hash of a packed key (its word) for Fibonacci hashing: the index
/// takes the product's top bits (table_home), so keys in a run (the common
/// case for ints) land evenly spread and probes stay about one slot long
/// even with the index two thirds full. A packed table uses it instead of
/// the hash its caller passes.
inline std::uint64_t packed_hash(std::uint64_t key) noexcept {
  return key * 0x9e3779b97f4a7c15ULL;
}
/// The slot where a probe for `hash` starts in an index of `index_cap` slots.
inline std::uint64_t table_home(std::uint64_t hash, std::uint64_t index_cap, bool packed) noexcept {
  return packed ? hash >> (64 - std::countr_zero(index_cap)) : hash & (index_cap - 1);
}
inline std::uint64_t entry_hash(const store& s, const store_entry& e) noexcept {
  return s.packed() ? packed_hash(e.hash) : e.hash;
}

/// Where a key is, or where it would go.
struct table_position {
  bool found = false;
  std::uint64_t slot = 0;   // the key's slot, or the slot an insert takes
  std::uint64_t entry = 0;  // the key's entry number, if found
};

/// table_find with the entry test `match(entry number)`.
template <class Match>
table_position table_probe(const store& s, std::uint64_t hash, Match match) noexcept {
  const store_header& h = s.header();
  table_position pos;
  if (h.index_cap == 0) return pos;
  const std::uint64_t mask = h.index_cap - 1;
  const std::uint32_t* index = s.index();
  bool have_tombstone = false;
  std::uint64_t i = table_home(hash, h.index_cap, s.packed());
  // At most two thirds of the slots are filled, so an empty one ends every
  // probe; the bound only guards against a corrupt table.
  for (std::uint64_t n = 0; n < h.index_cap; ++n, i = (i + 1) & mask) {
    const std::uint32_t v = index[i];
    if (v == slot_empty) {
      if (!have_tombstone) pos.slot = i;
      return pos;
    }
    if (v == slot_tombstone) {
      if (!have_tombstone) pos.slot = i, have_tombstone = true;
      continue;
    }
    const std::uint64_t e = v - slot_first_entry;
    if (e < h.entries_len && match(e)) {
      pos.found = true;
      pos.slot = i;
      pos.entry = e;
      return pos;
    }
  }
  return pos;
}

/// A packed table's lookup: `key` is packed_word of the key's bytes, `hash` its packed_hash.
inline table_position table_find_packed(const store& s, std::uint64_t key,
                                        std::uint64_t hash) noexcept {
  const store_entry* entries = s.entries();
  return table_probe(s, hash, [&](std::uint64_t e) { return entries[e].hash == key; });
}

inline table_position table_find(const store& s, std::span<const std::byte> key,
                                 std::uint64_t hash) noexcept {
  if (s.packed()) {
    const std::uint64_t w = packed_word(key);
    if (key.size() != s.header().packed_key)
      return table_probe(s, packed_hash(w), [](std::uint64_t) { return false; });
    return table_find_packed(s, w, packed_hash(w));
  }
  const store_entry* entries = s.entries();
  return table_probe(s, hash, [&](std::uint64_t e) {
    return entries[e].hash == hash && entries[e].blob != 0 &&
           same_bytes(s.blob_key(entries[e].blob), key);
  });
}

/// Whether entry `e` (below entries_len) holds a live item, not a hole.
inline bool entry_live(const store& s, std::uint64_t e) noexcept {
  const store_header& h = s.header();
  const store_entry& entry = s.entries()[e];
  if (!s.packed()) return entry.blob != 0;
  if (h.count == h.entries_len) return true;  // no holes
  const table_position pos = table_find_packed(s, entry.hash, entry_hash(s, entry));
  return pos.found && pos.entry == e;
}

/// Array sizes: an index of `index_cap` slots (a power of two) goes with
/// this many entries, so that it is at most two thirds full.
inline constexpr std::uint64_t table_entries_for(std::uint64_t index_cap) noexcept {
  return index_cap - index_cap / 3;
}
/// The index size for a table that must hold `items` entries, with room to
/// grow: doubling as the table fills up.
inline std::uint64_t table_index_cap_for(std::uint64_t items) noexcept {
  return std::max<std::uint64_t>(16, std::bit_ceil(items + items / 2 + 1));
}
inline std::uint64_t table_arrays_bytes(std::uint64_t index_cap) noexcept {
  return align_up(table_entries_for(index_cap) * sizeof(store_entry)) +
         align_up(index_cap * sizeof(std::uint32_t));
}

/// Writes fresh arrays for the live entries of `src` at the given offsets of
/// `dst`'s free space (dst may be src), copying the blobs too if asked;
/// `live` gets the number of entries. Writes only free space; `zeroed`: the
/// index's space reads as zero already (fresh memory: clearing it again
/// would only cost time).
inline void table_build_arrays(const store& src, store& dst, std::uint64_t entries_off,
                               std::uint64_t index_off, std::uint64_t index_cap,
                               bool copy_blobs, std::uint64_t& blob_cursor, std::uint64_t& live,
                               bool zeroed) noexcept {
  auto* out = dst.at<store_entry>(entries_off);
  auto* index = dst.at<std::uint32_t>(index_off);
  if (!zeroed) std::memset(index, 0, index_cap * sizeof(std::uint32_t));
  const store_header& h = src.header();
  const store_entry* in = src.entries();
  const bool packed = src.packed();
  const bool all_live = packed && h.count == h.entries_len;
  const std::uint64_t n = h.entries_len;
  live = 0;
  // The index is written at random: fetch the slot of an entry some way
  // ahead so that its cache miss overlaps the work on this one.
  constexpr std::uint64_t ahead = 16;
  if (all_live) {  // the common case, growing: the entries as they are, a new index
    if (n != 0) std::memcpy(out, in, n * sizeof(store_entry));
    const int shift = 64 - std::countr_zero(index_cap);
    for (std::uint64_t e = 0; e < n; ++e) {
      if (e + ahead < n) __builtin_prefetch(&index[packed_hash(in[e + ahead].hash) >> shift], 1);
      std::uint64_t i = packed_hash(in[e].hash) >> shift;
      while (index[i] != slot_empty) i = (i + 1) & (index_cap - 1);
      index[i] = static_cast<std::uint32_t>(e + slot_first_entry);
    }
    live = n;
    return;
  }
  for (std::uint64_t e = 0; e < n; ++e) {
    if (e + ahead < n)
      __builtin_prefetch(&index[table_home(entry_hash(src, in[e + ahead]), index_cap, packed)], 1);
    if (!all_live && !entry_live(src, e)) continue;
    std::uint64_t blob = in[e].blob;
    if (copy_blobs && !packed) {
      const std::uint64_t size = src.blob_size(blob);
      std::memcpy(dst.at<std::byte>(blob_cursor), src.at<std::byte>(blob), size);
      blob = blob_cursor;
      blob_cursor += size;
    }
    out[live] = {in[e].hash, blob};
    std::uint64_t i = table_home(entry_hash(src, in[e]), index_cap, packed);
    while (index[i] != slot_empty) i = (i + 1) & (index_cap - 1);
    index[i] = static_cast<std::uint32_t>(live + slot_first_entry);
    ++live;
  }
}

/// Bytes table_insert may carve for a new key.
inline std::uint64_t table_insert_need(const store& s, std::size_t key, std::size_t value) noexcept {
  const store_header& h = s.header();
  std::uint64_t need = s.packed() ? 0 : blob_bytes(key, value);
  if (h.entries_len == h.entries_cap) need += table_arrays_bytes(table_index_cap_for(h.count + 1));
  return need;
}

/// Rebuilds the arrays without holes, with room to grow. Logs 8 words.
inline void table_resize(store& s) noexcept {
  store_header& h = s.header();
  const std::uint64_t index_cap = table_index_cap_for(h.count + 1);
  const std::uint64_t cap = table_entries_for(index_cap);
  const bool zeroed = s.free_space_zeroed();
  const std::uint64_t entries_off = s.carve(cap * sizeof(store_entry));
  const std::uint64_t index_off = s.carve(index_cap * sizeof(std::uint32_t));
  std::uint64_t unused = 0, live = 0;
  table_build_arrays(s, s, entries_off, index_off, index_cap, false, unused, live, zeroed);
  s.set(h.entries, entries_off);
  s.set(h.entries_len, live);
  s.set(h.entries_cap, cap);
  s.set(h.index, index_off);
  s.set(h.index_cap, index_cap);
  s.set(h.index_filled, live);
}

/// Adds a key that table_find did not find. Logs at most 13 words.
inline void table_insert(store& s, std::span<const std::byte> key, std::span<const std::byte> value,
                         std::uint64_t hash, table_position pos) noexcept {
  store_header& h = s.header();
  if (h.entries_len == h.entries_cap) {
    table_resize(s);
    pos = table_find(s, key, hash);
  }
  const std::uint64_t e = h.entries_len;
  // Past entries_len: unseen until published.
  if (s.packed())
    s.entries()[e] = {packed_word(key), packed_word(value)};
  else
    s.entries()[e] = {hash, s.put_blob(key, value)};
  const bool was_empty = s.index()[pos.slot] == slot_empty;
  s.set(s.index()[pos.slot], static_cast<std::uint32_t>(e + slot_first_entry));
  s.set(h.entries_len, e + 1);
  if (was_empty) s.set(h.index_filled, h.index_filled + 1);
  s.set(h.count, h.count + 1);
}

/// Replaces the value of entry `e`. Logs 2 words; needs blob_bytes(key, value).
inline void table_assign(store& s, std::uint64_t e, std::span<const std::byte> value) noexcept {
  store_entry& entry = s.entries()[e];
  if (s.packed()) {
    s.set(entry.blob, packed_word(value));
    return;
  }
  const std::uint64_t blob = s.put_blob(s.blob_key(entry.blob), value);
  s.set(entry.blob, blob);
}

/// Removes the key at `pos` (found). Logs 3 words.
inline void table_erase(store& s, const table_position& pos) noexcept {
  store_header& h = s.header();
  s.set(s.index()[pos.slot], slot_tombstone);
  if (!s.packed()) s.set(s.entries()[pos.entry].blob, 0);
  s.set(h.count, h.count - 1);
}

/// Empties the table (its arrays become garbage). Logs 7 words.
inline void table_clear(store& s) noexcept {
  store_header& h = s.header();
  s.set(h.entries, 0);
  s.set(h.entries_len, 0);
  s.set(h.entries_cap, 0);
  s.set(h.index, 0);
  s.set(h.index_cap, 0);
  s.set(h.index_filled, 0);
  s.set(h.count, 0);
}

/// Calls f(key bytes, value bytes) for each live entry in insertion order.
template <class F>
void table_for_each(const store& s, F&& f) {
  const store_header& h = s.header();
  const store_entry* entries = s.entries();
  for (std::uint64_t e = 0; e < h.entries_len; ++e)
    if (entry_live(s, e)) f(entry_key(s, entries[e]), entry_value(s, entries[e]));
}

/// The newest live entry's number; false if the table is empty.
inline bool table_last(const store& s, std::uint64_t& entry) noexcept {
  const store_header& h = s.header();
  for (std::uint64_t e = h.entries_len; e > 0; --e)
    if (entry_live(s, e - 1)) {
      entry = e - 1;
      return true;
    }
  return false;
}

}  // namespace multiprocessing::detail
