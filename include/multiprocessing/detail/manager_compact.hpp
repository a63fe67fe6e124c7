#pragma once
// Copies a store's live contents, without garbage, into a fresh store: how a
// container grows (and sheds the space that overwrites and erases left).

#include <cstdint>
#include <cstring>

#include "manager_sequence.hpp"
#include "manager_store.hpp"
#include "manager_table.hpp"

namespace multiprocessing::detail {

/// Bytes (header included) that compact_into writes for `s`.
inline std::uint64_t compacted_size(const store& s) noexcept {
  const store_header& h = s.header();
  std::uint64_t blobs = 0;
  const store_entry* entries = s.entries();
  if (!s.packed())
    for (std::uint64_t e = 0; e < h.entries_len; ++e)
      if (entries[e].blob != 0) blobs += s.blob_size(entries[e].blob);
  const std::uint64_t arrays = s.is_table()
                                   ? table_arrays_bytes(table_index_cap_for(h.count))
                                   : sequence_cap_for(h.count) * sizeof(store_entry);
  return store_first_free + arrays + blobs;
}

/// Fills `dst` (just formatted, as large as compacted_size(src)) with src's
/// live items. dst is not published yet, so nothing here is logged.
inline void compact_into(const store& src, store& dst) noexcept {
  const store_header& in = src.header();
  store_header& out = dst.header();
  const std::uint64_t entries_off = store_first_free;
  std::uint64_t live = 0;
  if (src.is_table()) {
    const std::uint64_t index_cap = table_index_cap_for(in.count);
    const std::uint64_t cap = table_entries_for(index_cap);
    const std::uint64_t index_off = entries_off + align_up(cap * sizeof(store_entry));
    std::uint64_t cursor = index_off + align_up(index_cap * sizeof(std::uint32_t));
    out.packed_key = in.packed_key;
    out.packed_value = in.packed_value;
    table_build_arrays(src, dst, entries_off, index_off, index_cap, true, cursor, live, true);
    out.entries_cap = cap;
    out.index = index_off;
    out.index_cap = index_cap;
    out.index_filled = live;
    out.used = cursor;
  } else {
    const std::uint64_t cap = sequence_cap_for(in.count);
    std::uint64_t cursor = entries_off + cap * sizeof(store_entry);
    auto* entries = dst.at<store_entry>(entries_off);
    for (std::uint64_t i = 0; i < in.entries_len; ++i) {
      const std::uint64_t blob = src.entries()[i].blob;
      const std::uint64_t size = src.blob_size(blob);
      std::memcpy(dst.at<std::byte>(cursor), src.at<std::byte>(blob), size);
      entries[live++] = {0, cursor};
      cursor += size;
    }
    out.entries_cap = cap;
    out.used = cursor;
  }
  out.entries = entries_off;
  out.entries_len = live;
  out.count = live;
  out.untouched = out.used;
}

}  // namespace multiprocessing::detail
