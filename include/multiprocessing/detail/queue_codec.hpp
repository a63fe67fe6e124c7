#pragma once
// How one queue item becomes the bytes of one message and back. The queue
// checks the item type once, when a handle maps the queue, so messages
// carry no type tag. Types that are safe to copy as bytes (ints, doubles,
// plain structs) are copied as they are; the rest go through the archive
// into a per-thread scratch buffer that is reused from put to put.

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "archive.hpp"
#include "type_name.hpp"

namespace multiprocessing::detail {

inline std::vector<std::byte>& queue_scratch() noexcept {
  thread_local std::vector<std::byte> scratch;
  return scratch;
}

template <class T>
struct queue_codec {
  /// Calls f(bytes, owned): owned is null or a vector holding the bytes that
  /// f may move from (for big messages that end up in a feeder's buffer).
  template <class F>
  static void with_bytes(const T& v, F&& f) {
    if constexpr (bytes_safe<T>) {
      f(std::as_bytes(std::span<const T, 1>(&v, 1)), static_cast<std::vector<std::byte>*>(nullptr));
    } else {
      std::vector<std::byte>& scratch = queue_scratch();
      scratch.clear();
      writer w(scratch);
      detail::save(w, v);
      const std::span<const std::byte> bytes(scratch.data(), scratch.size());
      f(bytes, scratch.size() > big_message ? &scratch : nullptr);
      // Do not keep a huge buffer alive in every thread that once sent one.
      if (scratch.capacity() > keep_capacity) std::vector<std::byte>().swap(scratch);
    }
  }

  /// The item in `bytes`; UnpicklingError if they do not hold one.
  static T decode(std::span<const std::byte> bytes) {
    if constexpr (bytes_safe<T>) {
      if (bytes.size() != sizeof(T))
        throw UnpicklingError(fmt::format("malformed message: {} bytes cannot hold a {}",
                                          bytes.size(), type_name<T>()));
      T v;
      std::memcpy(static_cast<void*>(&v), bytes.data(), sizeof(T));
      return v;
    } else {
      reader r(bytes);
      T v = detail::load<T>(r);
      r.expect_end();
      return v;
    }
  }

 private:
  static constexpr std::size_t big_message = 64 * 1024;
  static constexpr std::size_t keep_capacity = 1 << 20;
};

}  // namespace multiprocessing::detail
