#pragma once
// A sequence in a store (list, Value, Array): an entries array whose first
// entries_len entries are the items, each a blob holding one value.
//
// Appends write past entries_len and publish by changing it; inserts and
// erases in the middle write a whole new array into free space and publish
// it by changing three words, so no operation ever moves published data in
// place. Each function says how many words it logs and what it needs.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "manager_store.hpp"

namespace multiprocessing::detail {

inline std::uint64_t sequence_cap_for(std::uint64_t items) noexcept {
  return std::max<std::uint64_t>(8, std::bit_ceil(items));
}

/// Bytes sequence_append_all needs for `n` more items of `blob_total` blob bytes.
inline std::uint64_t sequence_append_need(const store& s, std::uint64_t n,
                                          std::uint64_t blob_total) noexcept {
  const store_header& h = s.header();
  std::uint64_t need = blob_total;
  if (h.entries_len + n > h.entries_cap)
    need += sequence_cap_for(2 * (h.entries_len + n)) * sizeof(store_entry);
  return need;
}

/// Appends the values (all at once: a crash leaves none or all). Logs at most 6 words.
inline void sequence_append_all(store& s, std::span<const std::span<const std::byte>> values) noexcept {
  store_header& h = s.header();
  const std::uint64_t len = h.entries_len;
  const std::uint64_t n = values.size();
  if (len + n > h.entries_cap) {
    const std::uint64_t cap = sequence_cap_for(2 * (len + n));
    const std::uint64_t off = s.carve(cap * sizeof(store_entry));
    if (len != 0) std::memcpy(s.at<store_entry>(off), s.entries(), len * sizeof(store_entry));
    s.set(h.entries, off);
    s.set(h.entries_cap, cap);
  }
  std::uint64_t total = 0;
  for (const auto& v : values) total += blob_bytes(0, v.size());
  std::uint64_t cursor = s.carve(total);
  store_entry* entries = s.entries();
  for (std::uint64_t i = 0; i < n; ++i) {
    s.write_blob(cursor, {}, values[i]);
    entries[len + i] = {0, cursor};  // past entries_len: unseen until published
    cursor += blob_bytes(0, values[i].size());
  }
  s.set(h.entries_len, len + n);
  s.set(h.count, len + n);
}

/// Replaces item i. Logs 2 words; needs blob_bytes(0, value.size()).
inline void sequence_assign(store& s, std::uint64_t i, std::span<const std::byte> value) noexcept {
  const std::uint64_t blob = s.put_blob({}, value);
  s.set(s.entries()[i].blob, blob);
}

/// Bytes sequence_insert needs.
inline std::uint64_t sequence_insert_need(const store& s, std::size_t value) noexcept {
  return blob_bytes(0, value) + sequence_cap_for(s.header().entries_len + 1) * sizeof(store_entry);
}

/// Inserts before item i (i <= size). Logs 6 words.
inline void sequence_insert(store& s, std::uint64_t i, std::span<const std::byte> value) noexcept {
  store_header& h = s.header();
  const std::uint64_t len = h.entries_len;
  const std::uint64_t cap = sequence_cap_for(len + 1);
  const std::uint64_t off = s.carve(cap * sizeof(store_entry));
  const std::uint64_t blob = s.put_blob({}, value);
  auto* out = s.at<store_entry>(off);
  const store_entry* in = s.entries();
  if (i != 0) std::memcpy(out, in, i * sizeof(store_entry));
  out[i] = {0, blob};
  if (len != i) std::memcpy(out + i + 1, in + i, (len - i) * sizeof(store_entry));
  s.set(h.entries, off);
  s.set(h.entries_cap, cap);
  s.set(h.entries_len, len + 1);
  s.set(h.count, len + 1);
}

/// Bytes sequence_erase needs.
inline std::uint64_t sequence_erase_need(const store& s) noexcept {
  return sequence_cap_for(s.header().entries_len) * sizeof(store_entry);
}

/// Removes item i (i < size). Logs at most 5 words.
inline void sequence_erase(store& s, std::uint64_t i) noexcept {
  store_header& h = s.header();
  const std::uint64_t len = h.entries_len;
  if (i + 1 != len) {
    const std::uint64_t cap = sequence_cap_for(len);
    const std::uint64_t off = s.carve(cap * sizeof(store_entry));
    auto* out = s.at<store_entry>(off);
    const store_entry* in = s.entries();
    if (i != 0) std::memcpy(out, in, i * sizeof(store_entry));
    std::memcpy(out + i, in + i + 1, (len - i - 1) * sizeof(store_entry));
    s.set(h.entries, off);
    s.set(h.entries_cap, cap);
  }
  s.set(h.entries_len, len - 1);
  s.set(h.count, len - 1);
}

/// Empties the sequence. Logs 4 words.
inline void sequence_clear(store& s) noexcept {
  store_header& h = s.header();
  s.set(h.entries, 0);
  s.set(h.entries_len, 0);
  s.set(h.entries_cap, 0);
  s.set(h.count, 0);
}

inline std::span<const std::byte> sequence_item(const store& s, std::uint64_t i) noexcept {
  return s.blob_value(s.entries()[i].blob);
}

}  // namespace multiprocessing::detail
