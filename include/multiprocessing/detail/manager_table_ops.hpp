#pragma once
// The operations of DictProxy, SetProxy and NamespaceProxy on a container,
// each one locked session: keys arrive encoded (manager_codec.hpp), values
// leave decoded.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "manager_codec.hpp"
#include "manager_container.hpp"
#include "manager_errors.hpp"
#include "manager_table.hpp"

namespace multiprocessing::detail {

using bytes_view = std::span<const std::byte>;

/// A key's bytes and their hash.
struct encoded_key {
  bytes_view bytes;
  std::uint64_t hash;
};
inline encoded_key make_key(bytes_view b) noexcept { return {b, hash_bytes(b.data(), b.size())}; }

inline bytes_view entry_value(const store& s, std::uint64_t e) noexcept {
  return entry_value(s, s.entries()[e]);
}

/// Sets key -> value (inserting or replacing) and commits.
inline void table_put(container::session& ss, encoded_key k, bytes_view value) {
  store& s = ss.s();
  table_position pos = table_find(s, k.bytes, k.hash);
  if (!pos.found && s.header().count >= table_max_items)
    throw ValueError("a manager dict or set cannot hold more than 2**30 items");
  const std::uint64_t need = pos.found ? blob_bytes(k.bytes.size(), value.size())
                                       : table_insert_need(s, k.bytes.size(), value.size());
  if (s.free_bytes() < need) {
    ss.reserve(need);  // may move the store: find again
    pos = table_find(s, k.bytes, k.hash);
  }
  if (pos.found)
    table_assign(s, pos.entry, value);
  else
    table_insert(s, k.bytes, value, k.hash, pos);
  ss.commit();
}

inline void table_put(container& c, encoded_key k, bytes_view value) {
  c.locked([&](container::session& ss) { table_put(ss, k, value); });
}

/// Inserts key -> value unless the key is there. Returns whether it inserted.
inline bool table_put_new(container& c, encoded_key k, bytes_view value) {
  return c.locked([&](container::session& ss) {
    if (table_find(ss.s(), k.bytes, k.hash).found) return false;
    table_put(ss, k, value);
    return true;
  });
}

template <class V>
std::optional<V> table_get(container& c, encoded_key k) {
  return c.locked([&](container::session& ss) -> std::optional<V> {
    const table_position pos = table_find(ss.s(), k.bytes, k.hash);
    if (!pos.found) return std::nullopt;
    return manager_decode<V>(entry_value(ss.s(), pos.entry));
  });
}

/// The value's bytes, copied out (for Namespace, which decodes with a type check).
inline std::optional<std::vector<std::byte>> table_get_bytes(container& c, encoded_key k) {
  return c.locked([&](container::session& ss) -> std::optional<std::vector<std::byte>> {
    const table_position pos = table_find(ss.s(), k.bytes, k.hash);
    if (!pos.found) return std::nullopt;
    const bytes_view v = entry_value(ss.s(), pos.entry);
    return std::vector<std::byte>(v.begin(), v.end());
  });
}

inline bool table_contains(container& c, encoded_key k) {
  return c.locked(
      [&](container::session& ss) { return table_find(ss.s(), k.bytes, k.hash).found; });
}

/// Removes the key; returns whether it was there.
inline bool table_remove(container& c, encoded_key k) {
  return c.locked([&](container::session& ss) {
    const table_position pos = table_find(ss.s(), k.bytes, k.hash);
    if (!pos.found) return false;
    table_erase(ss.s(), pos);
    ss.commit();
    return true;
  });
}

/// Removes the key and returns its value (nullopt: it was not there).
template <class V>
std::optional<V> table_take(container& c, encoded_key k) {
  return c.locked([&](container::session& ss) -> std::optional<V> {
    const table_position pos = table_find(ss.s(), k.bytes, k.hash);
    if (!pos.found) return std::nullopt;
    V v = manager_decode<V>(entry_value(ss.s(), pos.entry));
    table_erase(ss.s(), pos);
    ss.commit();
    return v;
  });
}

/// Removes the newest item and returns its key and value (nullopt: empty).
template <class K, class V>
std::optional<std::pair<K, V>> table_take_last(container& c) {
  return c.locked([&](container::session& ss) -> std::optional<std::pair<K, V>> {
    store& s = ss.s();
    std::uint64_t e = 0;
    if (!table_last(s, e)) return std::nullopt;
    const store_entry& entry = s.entries()[e];
    std::pair<K, V> item{manager_decode<K>(entry_key(s, entry)),
                         manager_decode<V>(entry_value(s, entry))};
    const table_position pos = table_find(s, entry_key(s, entry), entry_hash(s, entry));
    if (!pos.found) throw ProcessError("manager table is corrupt: an entry is not indexed");
    table_erase(s, pos);
    ss.commit();
    return item;
  });
}

/// The key's value; if absent, inserts `fallback` (encoded as `fallback_bytes`) and returns it.
template <class V>
V table_setdefault(container& c, encoded_key k, const V& fallback, bytes_view fallback_bytes) {
  return c.locked([&](container::session& ss) -> V {
    const table_position pos = table_find(ss.s(), k.bytes, k.hash);
    if (pos.found) return manager_decode<V>(entry_value(ss.s(), pos.entry));
    table_put(ss, k, fallback_bytes);
    return fallback;
  });
}

/// Atomic read-modify-write: fn(V&) on the key's value, stored back; returns the new value.
template <class V, class F>
V table_apply(container& c, encoded_key k, F& fn, const char* missing) {
  return c.locked([&](container::session& ss) -> V {
    const table_position pos = table_find(ss.s(), k.bytes, k.hash);
    if (!pos.found) throw KeyError(missing);
    V v = manager_decode<V>(entry_value(ss.s(), pos.entry));
    fn(v);
    std::vector<std::byte> buf;
    table_put(ss, k, manager_encode(buf, v));
    return v;
  });
}

inline std::size_t container_size(container& c) {
  return c.locked([](container::session& ss) { return ss.s().header().count; });
}

inline void table_clear(container& c) {
  c.locked([](container::session& ss) {
    table_clear(ss.s());
    ss.commit();
  });
}

/// Calls f(key bytes, value bytes) for every item, in insertion order, under the lock.
template <class F>
void table_visit(container& c, F&& f) {
  c.locked([&](container::session& ss) { table_for_each(ss.s(), f); });
}

}  // namespace multiprocessing::detail
