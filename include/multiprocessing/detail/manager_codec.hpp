#pragma once
// Keys and values of manager containers go through the transfer layer:
// encoded (without a type tag: the proxy's type fixes them) before the
// container's lock is taken, decoded from the shared bytes under it.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "aggregate.hpp"
#include "archive.hpp"
#include "type_name.hpp"

namespace multiprocessing::detail {

/// Per-thread buffers for the common one-key, one-value operations, so that
/// they allocate nothing once warm. Only used before the lock is taken, and
/// never across a call into user code that could use a proxy.
inline std::vector<std::byte>& manager_scratch(int which) {
  thread_local std::vector<std::byte> buffers[2];
  return buffers[which];
}

/// Types whose encoding is their object representation (archive.hpp's
/// kind::bytes): encoded without a copy, decoded with one memcpy.
template <class T>
inline constexpr bool manager_raw_bytes = kind_of<T>() == kind::bytes;

template <class T>
consteval bool padding_free();
template <class List>
struct fields_padding_free;
template <class... F>
struct fields_padding_free<aggregate::type_list<F...>> {
  static constexpr bool value = (padding_free<F>() && ...);
  static constexpr std::size_t size = (std::size_t{0} + ... + sizeof(F));
};

/// Whether every byte of a T is a byte of its value (no padding), for the
/// types copied as their bytes: keys are compared by their bytes.
template <class T>
consteval bool padding_free() {
  if constexpr (std::is_same_v<T, long double>) {
    return false;
  } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    return true;
  } else if constexpr (std::is_array_v<T>) {
    return padding_free<std::remove_extent_t<T>>();
  } else if constexpr (std::is_class_v<T>) {
    constexpr std::size_t n = aggregate::count<T>();
    if constexpr (n == aggregate::not_countable || n == 0 || n > aggregate::max_fields) {
      return std::has_unique_object_representations_v<T>;
    } else {
      using fields = fields_padding_free<aggregate::field_types<T, n>>;
      return fields::value && fields::size == sizeof(T);
    }
  } else {
    return false;
  }
}

/// A type usable as a key of a managed dict or set.
template <class K>
inline constexpr bool manager_key_ok = !manager_raw_bytes<K> || padding_free<K>();

/// v's bytes: `out` filled with them, or (raw types) v's own bytes, so the
/// result must not outlive v or out.
template <class T>
std::span<const std::byte> manager_encode(std::vector<std::byte>& out, const T& v) {
  if constexpr (manager_raw_bytes<T>) {
    return std::as_bytes(std::span<const T, 1>(std::addressof(v), 1));
  }
  out.clear();
  writer w(out);
  save(w, v);
  if (out.size() > std::numeric_limits<std::uint32_t>::max())
    throw ValueError(fmt::format("a manager container item of {} bytes is too large (4 GiB at most)",
                                 out.size()));
  return out;
}

template <class T>
std::vector<std::byte> manager_encode(const T& v) {
  std::vector<std::byte> out;
  const auto bytes = manager_encode(out, v);
  if constexpr (manager_raw_bytes<T>) out.assign(bytes.begin(), bytes.end());
  return out;
}

/// Rebuilds a T from a container's bytes.
template <class T>
T manager_decode(std::span<const std::byte> bytes) {
  if constexpr (manager_raw_bytes<T> && std::is_trivially_default_constructible_v<T>) {
    if (bytes.size() != sizeof(T))
      throw UnpicklingError(fmt::format("a manager item of {} bytes is not a {}", bytes.size(),
                                        type_name<T>()));
    T v;
    std::memcpy(&v, bytes.data(), sizeof(T));
    return v;
  }
  reader r(bytes);
  T v = load<T>(r);
  r.expect_end();
  return v;
}

}  // namespace multiprocessing::detail
