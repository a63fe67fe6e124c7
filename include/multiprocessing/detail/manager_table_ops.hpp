#pragma once
// The operations of DictProxy, SetProxy and NamespaceProxy on a container,
// each one locked session: keys arrive encoded (manager_codec.hpp), values
// leave decoded.

#include <cstddef>
#include <cstdint>
#include <cstring>
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
  const bool may_move = s.free_bytes() < need;
  ss.reserve(need);
  if (may_move) pos = table_find(s, k.bytes, k.hash);  // the store may have moved: find again
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

// The fast path of a packed table's most common operations (the proxy has
// checked that its K and V are packed): the key and value as words, no
// encoding, the hash of a known size. Anything unusual (a resize, a store
// that is not packed) takes the general path above.

/// The entry of `key` (a packed word of KeySize bytes) in packed store `s`, or -1.
template <std::uint32_t KeySize>
[[gnu::always_inline]] inline std::int64_t packed_lookup(const store& s, std::uint64_t key,
                                                         std::uint64_t hash,
                                                         std::uint64_t& slot) noexcept {
  const store_header& h = s.header();
  const std::uint64_t mask = h.index_cap - 1;
  const std::uint32_t* index = s.index();
  const store_entry* entries = s.entries();
  std::uint64_t i = table_home(hash, h.index_cap, true);
  std::uint64_t free_slot = ~std::uint64_t{0};
  for (std::uint64_t n = 0; n < h.index_cap; ++n, i = (i + 1) & mask) {
    const std::uint32_t v = index[i];
    if (v == slot_empty) {
      slot = free_slot != ~std::uint64_t{0} ? free_slot : i;
      return -1;
    }
    if (v == slot_tombstone) {
      if (free_slot == ~std::uint64_t{0}) free_slot = i;
      continue;
    }
    const std::uint64_t e = v - slot_first_entry;
    if (e < h.entries_len && entries[e].hash == key) {
      slot = i;
      return static_cast<std::int64_t>(e);
    }
  }
  slot = free_slot;
  return -1;
}

template <std::uint32_t KeySize, std::uint32_t ValueSize>
bool packed_fits(const store& s) noexcept {
  const store_header& h = s.header();
  return h.packed_key == KeySize && h.packed_value == ValueSize && h.index_cap != 0;
}

/// d[key] = value on a packed table.
template <std::uint32_t KeySize, std::uint32_t ValueSize>
void table_put_word(container& c, std::uint64_t key, std::uint64_t value) {
  c.locked([&](container::session& ss) {
    store& s = ss.s();
    store_header& h = s.header();
    if (packed_fits<KeySize, ValueSize>(s)) {
      const std::uint64_t hash = packed_hash(key);
      std::uint64_t slot = 0;
      const std::int64_t e = packed_lookup<KeySize>(s, key, hash, slot);
      if (e >= 0) {
        s.set(s.entries()[e].blob, value);
        ss.commit();
        return;
      }
      if (h.entries_len < h.entries_cap && slot != ~std::uint64_t{0}) {
        const std::uint64_t n = h.entries_len;
        s.entries()[n] = {key, value};  // past entries_len: unseen until published
        std::uint32_t& slot_word = s.index()[slot];
        const bool was_empty = slot_word == slot_empty;
        s.set(slot_word, static_cast<std::uint32_t>(n + slot_first_entry));
        s.set(h.entries_len, n + 1);
        if (was_empty) s.set(h.index_filled, h.index_filled + 1);
        s.set(h.count, h.count + 1);
        ss.commit();
        return;
      }
    }
    table_put(ss, {packed_bytes(key, KeySize), hash_word(key, KeySize)},
              packed_bytes(value, ValueSize));
  });
}

/// d.get(key) on a packed table of K -> V (`key`: K's packed word).
template <class K, class V>
std::optional<V> table_get_word(container& c, std::uint64_t key) {
  return c.locked([&](container::session& ss) -> std::optional<V> {
    const store& s = ss.s();
    if (packed_fits<sizeof(K), sizeof(V)>(s)) {
      std::uint64_t slot = 0;
      const std::int64_t e = packed_lookup<sizeof(K)>(s, key, packed_hash(key), slot);
      if (e < 0) return std::nullopt;
      V v;
      std::memcpy(&v, &s.entries()[e].blob, sizeof(V));
      return v;
    }
    const table_position pos =
        table_find(s, packed_bytes(key, sizeof(K)), hash_word(key, sizeof(K)));
    if (!pos.found) return std::nullopt;
    return manager_decode<V>(entry_value(s, pos.entry));
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
