#pragma once
/// Transferable values (Python: picklable): the Transferable concept,
/// transfer_traits (the extension point), dumps and loads.
///
/// A message from dumps is an 8-byte tag naming the type, then the value.
/// The encoding is native (byte order, sizes): not portable across machines.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "exceptions.hpp"
#include "detail/archive.hpp"
#include "detail/exception_transfer.hpp"
#include "detail/task.hpp"
#include "detail/type_name.hpp"

namespace multiprocessing {

/// What may cross a process boundary as an argument, result or message:
/// arithmetic types, enums, std::byte, strings, std containers, pair, tuple,
/// optional, variant, complex, durations, paths (nested freely); aggregates
/// whose fields all are (trivially copyable ones without pointers go as
/// bytes); types with a member serialize(Archive&) or save/load members; and
/// types with a transfer_traits specialization (the library's handles).
/// Pointers and references are not.
template <class T>
concept Transferable = detail::transferable_v<T>;

/// Serializes v, tagged with its type (pickle.dumps). A type that is not
/// transferable is a compile-time error naming it; throws ValueError for a
/// value that cannot be sent (a valueless variant, an unexported function).
template <class T>
std::vector<std::byte> dumps(const T& v) {
  std::vector<std::byte> out;
  out.reserve(64);  // one allocation for small values; geometric growth after
  detail::writer w(out);
  w.put(detail::type_hash<T>());
  detail::save(w, v);
  return out;
}

/// Rebuilds a T from dumps' bytes (pickle.loads). Throws UnpicklingError for a
/// message of another type, truncated or malformed input, or trailing bytes.
template <class T>
T loads(std::span<const std::byte> bytes) {
  detail::reader r(bytes);
  if (r.remaining() < sizeof(std::uint64_t))
    throw UnpicklingError(fmt::format("message too short to hold a {}", detail::type_name<T>()));
  if (r.get<std::uint64_t>() != detail::type_hash<T>())
    throw UnpicklingError(
        fmt::format("message does not hold a {} (another type was sent)", detail::type_name<T>()));
  T v = detail::load<T>(r);
  r.expect_end();
  return v;
}

}  // namespace multiprocessing
