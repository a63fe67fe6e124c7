#pragma once
/// Python's multiprocessing.sharedctypes: Value, Array, RawValue and RawArray
/// of trivially copyable types, in shared memory.
///
/// Each is a copyable handle; every copy (in this process, a forked child,
/// or a process it was transferred to) refers to the same memory. Value and
/// Array carry an RLock (get_lock()) to guard compound updates; nothing
/// locks implicitly.

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <ranges>
#include <span>
#include <type_traits>
#include <utility>

#include "detail/arena.hpp"
#include "detail/handle_access.hpp"
#include "detail/shared_block.hpp"
#include "synchronize.hpp"

namespace multiprocessing {

namespace detail {
/// A range an Array<T> can be built from (not another handle's copy constructor).
template <class R, class T, class Self>
concept array_source = std::ranges::input_range<R> && !std::same_as<std::remove_cvref_t<R>, Self> &&
                       std::convertible_to<std::ranges::range_reference_t<R>, T>;
}  // namespace detail

/// One T in shared memory, without a lock (Python: RawValue).
template <class T>
class RawValue {
  static_assert(detail::check_shareable<T>());

 public:
  /// Creates the value, initialized to `init`. Throws OSError if no segment can be made.
  explicit RawValue(T init = {})
      : ref_(detail::shared_ref<detail::value_cell<T>>::make(0, detail::value_cell<T>{init})) {}

  /// The shared value itself; reads and writes are not synchronized.
  T& value() const noexcept { return ref_->value; }

  /// Same object.
  friend bool operator==(const RawValue& a, const RawValue& b) noexcept { return a.ref_ == b.ref_; }

 private:
  friend struct detail::handle_access;
  RawValue(detail::attach_tag, detail::shared_ref<detail::value_cell<T>> ref)
      : ref_(std::move(ref)) {}

  detail::shared_ref<detail::value_cell<T>> ref_;
};

/// One T in shared memory with an RLock to guard it (Python: Value).
template <class T>
class Value {
  static_assert(detail::check_shareable<T>());

 public:
  /// Creates the value, initialized to `init`, and its lock. lock = false
  /// records that the caller will not use the lock (it exists regardless).
  /// Throws OSError if no segment can be made.
  explicit Value(T init = {}, [[maybe_unused]] bool lock = true)
      : ref_(detail::shared_ref<detail::value_cell<T>>::make(0, detail::value_cell<T>{init})) {}

  /// The shared value itself; hold get_lock() around read-modify-write.
  T& value() const noexcept { return ref_->value; }
  /// The lock that guards this value (shared by every copy).
  RLock& get_lock() const noexcept { return lock_; }

  /// Same object.
  friend bool operator==(const Value& a, const Value& b) noexcept { return a.ref_ == b.ref_; }

 private:
  friend struct detail::handle_access;
  Value(detail::attach_tag, detail::shared_ref<detail::value_cell<T>> ref, RLock lock)
      : ref_(std::move(ref)), lock_(std::move(lock)) {}

  detail::shared_ref<detail::value_cell<T>> ref_;
  mutable RLock lock_;
};

/// A fixed-size array of T in shared memory, without a lock (Python: RawArray).
template <class T>
class RawArray {
  static_assert(detail::check_shareable<T>());

 public:
  using value_type = T;
  using iterator = T*;

  /// n zero-filled elements. Throws OSError if no segment can be made.
  explicit RawArray(std::size_t n) : block_(detail::array_block<T>::create(n)) {}
  /// A copy of `init`.
  RawArray(std::initializer_list<T> init) : block_(detail::array_block<T>::from_range(init)) {}
  /// A copy of the elements of `r`, each converted to T.
  template <class R>
    requires detail::array_source<R, T, RawArray>
  explicit RawArray(R&& r) : block_(detail::array_block<T>::from_range(std::forward<R>(r))) {}

  /// Element i (unchecked); reads and writes are not synchronized.
  T& operator[](std::size_t i) const noexcept { return block_.data()[i]; }
  std::size_t size() const noexcept { return block_.size(); }
  T* data() const noexcept { return block_.data(); }
  T* begin() const noexcept { return block_.data(); }
  T* end() const noexcept { return block_.data() + block_.size(); }
  /// All elements, as a span over the shared memory.
  std::span<T> span() const noexcept { return {block_.data(), block_.size()}; }

  /// Same object.
  friend bool operator==(const RawArray& a, const RawArray& b) noexcept {
    return a.block_ == b.block_;
  }

 private:
  friend struct detail::handle_access;
  RawArray(detail::attach_tag, detail::array_block<T> block) : block_(std::move(block)) {}

  detail::array_block<T> block_;
};

/// A fixed-size array of T in shared memory with an RLock to guard it
/// (Python: Array).
template <class T>
class Array {
  static_assert(detail::check_shareable<T>());

 public:
  using value_type = T;
  using iterator = T*;

  /// n zero-filled elements. Throws OSError if no segment can be made.
  explicit Array(std::size_t n, [[maybe_unused]] bool lock = true)
      : block_(detail::array_block<T>::create(n)) {}
  /// A copy of `init`.
  Array(std::initializer_list<T> init, [[maybe_unused]] bool lock = true)
      : block_(detail::array_block<T>::from_range(init)) {}
  /// A copy of the elements of `r`, each converted to T.
  template <class R>
    requires detail::array_source<R, T, Array>
  explicit Array(R&& r, [[maybe_unused]] bool lock = true)
      : block_(detail::array_block<T>::from_range(std::forward<R>(r))) {}

  /// Element i (unchecked); hold get_lock() around compound updates.
  T& operator[](std::size_t i) const noexcept { return block_.data()[i]; }
  std::size_t size() const noexcept { return block_.size(); }
  T* data() const noexcept { return block_.data(); }
  T* begin() const noexcept { return block_.data(); }
  T* end() const noexcept { return block_.data() + block_.size(); }
  /// All elements, as a span over the shared memory.
  std::span<T> span() const noexcept { return {block_.data(), block_.size()}; }
  /// The lock that guards this array (shared by every copy).
  RLock& get_lock() const noexcept { return lock_; }

  /// Same object.
  friend bool operator==(const Array& a, const Array& b) noexcept { return a.block_ == b.block_; }

 private:
  friend struct detail::handle_access;
  Array(detail::attach_tag, detail::array_block<T> block, RLock lock)
      : block_(std::move(block)), lock_(std::move(lock)) {}

  detail::array_block<T> block_;
  mutable RLock lock_;
};

}  // namespace multiprocessing

// Last, so that it sees the classes above: makes each handle Transferable.
#include "detail/sharedctypes_transfer.hpp"
