#pragma once
// The operations of ListProxy, ArrayProxy and ValueProxy on a container,
// each one locked session. Indices follow Python: negative ones count from
// the end; outside the sequence is an IndexError.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "manager_codec.hpp"
#include "manager_container.hpp"
#include "manager_errors.hpp"
#include "manager_sequence.hpp"
#include "manager_table_ops.hpp"

namespace multiprocessing::detail {

/// Python's index rule for item access: -len <= i < len.
inline std::uint64_t sequence_index(std::ptrdiff_t i, std::uint64_t len, const char* what) {
  const auto n = static_cast<std::ptrdiff_t>(len);
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw IndexError(fmt::format("{} index out of range", what));
  return static_cast<std::uint64_t>(i);
}

template <class T>
T sequence_get(container& c, std::ptrdiff_t i, const char* what) {
  return c.locked([&](container::session& ss) {
    const std::uint64_t at = sequence_index(i, ss.s().header().entries_len, what);
    return manager_decode<T>(sequence_item(ss.s(), at));
  });
}

inline void sequence_set(container& c, std::ptrdiff_t i, bytes_view value, const char* what) {
  c.locked([&](container::session& ss) {
    const std::uint64_t at = sequence_index(i, ss.s().header().entries_len, what);
    ss.reserve(blob_bytes(0, value.size()));
    sequence_assign(ss.s(), at, value);
    ss.commit();
  });
}

/// Appends every value in one step.
inline void sequence_extend(container& c, std::span<const bytes_view> values) {
  std::uint64_t blobs = 0;
  for (const auto& v : values) blobs += blob_bytes(0, v.size());
  c.locked([&](container::session& ss) {
    ss.reserve(sequence_append_need(ss.s(), values.size(), blobs));
    sequence_append_all(ss.s(), values);
    ss.commit();
  });
}

inline void sequence_append(container& c, bytes_view value) {
  const bytes_view one[1] = {value};
  sequence_extend(c, one);
}

/// Python's list.insert: i is clamped into [0, len].
inline void sequence_insert_at(container& c, std::ptrdiff_t i, bytes_view value) {
  c.locked([&](container::session& ss) {
    const auto n = static_cast<std::ptrdiff_t>(ss.s().header().entries_len);
    if (i < 0) i = i + n < 0 ? 0 : i + n;
    if (i > n) i = n;
    ss.reserve(sequence_insert_need(ss.s(), value.size()));
    sequence_insert(ss.s(), static_cast<std::uint64_t>(i), value);
    ss.commit();
  });
}

template <class T>
T sequence_pop(container& c, std::ptrdiff_t i) {
  return c.locked([&](container::session& ss) {
    const std::uint64_t len = ss.s().header().entries_len;
    if (len == 0) throw IndexError("pop from empty list");
    const std::uint64_t at = sequence_index(i, len, "pop");
    ss.reserve(sequence_erase_need(ss.s()));
    T v = manager_decode<T>(sequence_item(ss.s(), at));
    sequence_erase(ss.s(), at);
    ss.commit();
    return v;
  });
}

/// The first item whose bytes equal `value`'s, if any.
inline std::optional<std::uint64_t> sequence_find(const store& s, bytes_view value) noexcept {
  const std::uint64_t len = s.header().entries_len;
  for (std::uint64_t i = 0; i < len; ++i)
    if (same_bytes(sequence_item(s, i), value)) return i;
  return std::nullopt;
}

inline std::optional<std::uint64_t> sequence_index_of(container& c, bytes_view value) {
  return c.locked([&](container::session& ss) { return sequence_find(ss.s(), value); });
}

/// Removes the first item equal to `value`; returns whether there was one.
inline bool sequence_remove(container& c, bytes_view value) {
  return c.locked([&](container::session& ss) {
    const auto at = sequence_find(ss.s(), value);
    if (!at) return false;
    ss.reserve(sequence_erase_need(ss.s()));
    sequence_erase(ss.s(), *at);
    ss.commit();
    return true;
  });
}

inline std::size_t sequence_count(container& c, bytes_view value) {
  return c.locked([&](container::session& ss) {
    std::size_t n = 0;
    const std::uint64_t len = ss.s().header().entries_len;
    for (std::uint64_t i = 0; i < len; ++i) n += same_bytes(sequence_item(ss.s(), i), value);
    return n;
  });
}

inline void sequence_clear(container& c) {
  c.locked([](container::session& ss) {
    sequence_clear(ss.s());
    ss.commit();
  });
}

/// Atomic read-modify-write of item i; returns the new value.
template <class T, class F>
T sequence_apply(container& c, std::ptrdiff_t i, F& fn, const char* what) {
  return c.locked([&](container::session& ss) {
    const std::uint64_t at = sequence_index(i, ss.s().header().entries_len, what);
    T v = manager_decode<T>(sequence_item(ss.s(), at));
    fn(v);
    std::vector<std::byte> buf;
    const bytes_view bytes = manager_encode(buf, v);
    ss.reserve(blob_bytes(0, bytes.size()));
    sequence_assign(ss.s(), at, bytes);
    ss.commit();
    return v;
  });
}

template <class T>
std::vector<T> sequence_copy(container& c) {
  return c.locked([](container::session& ss) {
    std::vector<T> out;
    const std::uint64_t len = ss.s().header().entries_len;
    out.reserve(len);
    for (std::uint64_t i = 0; i < len; ++i) out.push_back(manager_decode<T>(sequence_item(ss.s(), i)));
    return out;
  });
}

}  // namespace multiprocessing::detail
