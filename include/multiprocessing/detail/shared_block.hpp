#pragma once
// The shared storage behind Value/RawValue (one T) and Array/RawArray (a
// length, then the elements, in one segment). T is restricted to what can
// live in memory that other processes map at other addresses and read as
// bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <new>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "arena.hpp"

namespace multiprocessing::detail {

/// Checked where a shared value or array type is instantiated, so the
/// error names the rule instead of failing deep inside the arena.
template <class T>
consteval bool check_shareable() {
  static_assert(std::is_trivially_copyable_v<T>,
                "mp::Value / mp::Array / mp::RawValue / mp::RawArray: T must be trivially "
                "copyable: it lives in shared memory and other processes use its bytes as they "
                "are (std::string, std::vector and types with owning pointers cannot); share "
                "such data through a Queue or a Manager instead");
  static_assert(!std::is_pointer_v<T> && !std::is_member_pointer_v<T>,
                "mp::Value / mp::Array: T must not be a pointer: other processes map the "
                "memory at other addresses");
  static_assert(!std::is_const_v<T> && !std::is_volatile_v<T>,
                "mp::Value / mp::Array: T must not be const or volatile");
  static_assert(alignof(T) <= 64, "mp::Value / mp::Array: T may be aligned to at most 64 bytes");
  return true;
}

template <class T>
struct value_cell {
  T value;
};

struct alignas(64) array_header {
  std::uint64_t size;
};

/// n elements of T in one segment, zero-filled when created.
template <class T>
class array_block {
 public:
  array_block() = default;

  static array_block create(std::size_t n) {
    if (n > (std::numeric_limits<std::size_t>::max() - 4096) / sizeof(T))
      throw ValueError(fmt::format("array of {} elements is too large", n));
    // A new segment is zero-filled by ftruncate, which is what Python's
    // Array(n) promises; the elements' lifetimes begin implicitly (T is
    // trivially copyable).
    return array_block(shared_ref<array_header>::make(n * sizeof(T), array_header{n}));
  }
  template <class R>
  static array_block from_range(R&& r) {
    if constexpr (std::ranges::forward_range<R> || std::ranges::sized_range<R>) {
      const auto n = static_cast<std::size_t>(std::ranges::distance(r));
      array_block b = create(n);
      T* out = b.data();
      for (auto&& x : r) *out++ = static_cast<T>(std::forward<decltype(x)>(x));
      return b;
    } else {
      std::vector<T> items;
      for (auto&& x : r) items.push_back(static_cast<T>(std::forward<decltype(x)>(x)));
      return from_range(items);
    }
  }
  static array_block attach(const std::string& name) {
    auto ref = shared_ref<array_header>::attach(name);
    const std::uint64_t n = ref->size;
    if (n > ref.extra_size() / sizeof(T))
      throw ProcessError(fmt::format("shared array '{}' is shorter than its length says", name));
    return array_block(std::move(ref));
  }

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const { return ref_.name(); }
  friend bool operator==(const array_block& a, const array_block& b) noexcept {
    return a.ref_ == b.ref_;
  }

 private:
  explicit array_block(shared_ref<array_header> ref)
      : ref_(std::move(ref)),
        data_(std::launder(reinterpret_cast<T*>(ref_.extra()))),
        size_(static_cast<std::size_t>(ref_->size)) {}

  shared_ref<array_header> ref_;
  // Cached so that element access is one load, not a walk through the segment.
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace multiprocessing::detail
