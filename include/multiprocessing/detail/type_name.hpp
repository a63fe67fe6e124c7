#pragma once
// Compile-time type names and their hashes: message type tags and shared
// segment kinds. Stable for one compiler and one program, which is all a
// tag needs (both ends run the same binary).

#include <cstdint>
#include <string_view>

namespace multiprocessing::detail {

template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view p = __PRETTY_FUNCTION__;
  // "... type_name() [with T = X; ...]" (GCC) or "... type_name() [T = X]" (Clang)
  auto start = p.find("T = ");
  if (start == std::string_view::npos) return p;
  start += 4;
  auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

template <class T>
constexpr std::uint64_t type_hash() noexcept {
  return fnv1a(type_name<T>());
}

}  // namespace multiprocessing::detail
