#pragma once
// The bytes of a ShareableList block. Two different programs (or builds) may
// attach to one block by name, so the header stamps a magic number, the
// layout version and the element type, and attaching checks all of it, plus
// every offset, against the block's real size: a wrong or hostile block is a
// ValueError, never an out-of-bounds read.
//
//   [0, 64)          list_header
//   fixed-size T:    count elements of sizeof(T) at data_offset (aligned for T)
//   std::string:     count string_slot records at 64, then each slot's bytes

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "config.hpp"
#include "type_name.hpp"

namespace multiprocessing::detail {

inline constexpr std::uint64_t shareable_list_magic = 0x4d50435050534c31ULL;  // "MPCPPSL1"

struct list_header {
  std::uint64_t magic;
  std::uint32_t layout;
  std::uint32_t element_size;  // sizeof(T); 0 for strings
  std::uint64_t element_type;  // type_hash<T>()
  std::uint64_t count;
  std::uint64_t data_offset;
};
inline constexpr std::size_t list_header_size = 64;
static_assert(sizeof(list_header) <= list_header_size);

/// Where one string element lives; length changes on every store.
struct string_slot {
  std::uint64_t offset;
  std::uint64_t capacity;
  std::uint64_t length;
};

/// Python's rule: a string of n bytes gets room for 8 * (n / 8 + 1) bytes,
/// so every slot can hold at least its initial value and an empty string
/// still gets 8.
constexpr std::size_t string_slot_capacity(std::size_t n) noexcept { return 8 * (n / 8 + 1); }

template <class T>
inline constexpr bool is_string_element = std::is_same_v<T, std::string>;

template <class T>
constexpr std::size_t list_data_offset(std::size_t count) noexcept {
  if constexpr (is_string_element<T>) {
    return list_header_size + count * sizeof(string_slot);
  } else {
    constexpr std::size_t a = alignof(T);
    return (list_header_size + a - 1) / a * a;
  }
}

inline void read_raw(const std::byte* from, void* to, std::size_t n) noexcept {
  std::memcpy(to, from, n);
}
inline void write_raw(std::byte* to, const void* from, std::size_t n) noexcept {
  std::memcpy(to, from, n);
}

/// Checks a block found by name against what ShareableList<T> expects and
/// returns the element count. Throws ValueError naming what is wrong.
template <class T>
std::size_t check_list_block(const std::byte* base, std::size_t block_size, std::string_view name) {
  if (block_size < list_header_size)
    throw ValueError(fmt::format("shared memory '{}' is too small to hold a ShareableList", name));
  list_header h;
  read_raw(base, &h, sizeof h);
  if (h.magic != shareable_list_magic || h.layout != MULTIPROCESSING_SHM_LAYOUT)
    throw ValueError(fmt::format(
        "shared memory '{}' does not hold a ShareableList of this library version", name));
  const std::uint32_t element_size = is_string_element<T> ? 0 : sizeof(T);
  if (h.element_type != type_hash<T>() || h.element_size != element_size)
    throw ValueError(fmt::format("ShareableList '{}' does not hold elements of type {}", name,
                                 type_name<T>()));
  // Bounds, computed so that no huge field can overflow.
  const std::size_t per_element = is_string_element<T> ? sizeof(string_slot) : sizeof(T);
  const std::size_t data_offset = list_data_offset<T>(is_string_element<T> ? 0 : 1);
  if (block_size < data_offset)
    throw ValueError(fmt::format("ShareableList '{}' has a corrupt header", name));
  const std::size_t room = block_size - data_offset;
  if (h.count > room / per_element || h.data_offset != list_data_offset<T>(h.count))
    throw ValueError(fmt::format("ShareableList '{}' has a corrupt header", name));
  if constexpr (!is_string_element<T>) {
    if (h.data_offset + h.count * sizeof(T) > block_size)
      throw ValueError(fmt::format("ShareableList '{}' has a corrupt header", name));
  }
  return static_cast<std::size_t>(h.count);
}

}  // namespace multiprocessing::detail
