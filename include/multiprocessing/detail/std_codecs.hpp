#pragma once
// How the archive writes and reads the standard library's types. Each
// std_codec<X> says whether X is transferable (ok), whether it may be copied
// as bytes, its minimum encoded size, its element types (for diagnostics),
// and how to save and load it. Included by archive.hpp after the dispatch.

#include <array>
#include <chrono>
#include <complex>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "archive.hpp"

namespace multiprocessing::detail {

template <class... E>
struct codec_base {
  static constexpr bool known = true;
  static constexpr bool bytes = false;
  using elements = aggregate::type_list<E...>;
};

/// Contiguous elements that are bytes_safe: one copy each way.
template <class E>
void save_contiguous(writer& w, const E* data, std::size_t n) {
  w.put_size(n);
  w.write_bytes(data, n * sizeof(E));
}
template <class C, class E = typename C::value_type>
void load_contiguous(reader& r, C& out) {
  std::size_t n = r.get_count(sizeof(E));
  const std::byte* p = r.take(n * sizeof(E));
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(E) == 0) {
    // Aligned (the usual case: messages start at malloc'ed addresses): one
    // memmove into fresh storage, no zero-fill first.
    auto first = reinterpret_cast<const E*>(p);
    out.assign(first, first + n);
  } else {
    out.resize(n);
    if (n != 0) std::memcpy(out.data(), p, n * sizeof(E));
  }
}

// --- strings ---------------------------------------------------------------

template <class C>
inline constexpr bool is_char_like = std::is_arithmetic_v<C> && !std::is_same_v<C, bool>;

template <class C, class Tr, class A>
struct std_codec<std::basic_string<C, Tr, A>> : codec_base<C> {
  using S = std::basic_string<C, Tr, A>;
  static constexpr bool ok = is_char_like<C>;
  static constexpr std::size_t min_size = 8;
  static void save(writer& w, const S& s) { save_contiguous(w, s.data(), s.size()); }
  static S load(reader& r) {
    S s;
    load_contiguous(r, s);
    return s;
  }
};

template <>
struct std_codec<std::filesystem::path> : codec_base<> {
  static constexpr bool ok = true;
  static constexpr std::size_t min_size = 8;
  static void save(writer& w, const std::filesystem::path& p) {
    save_contiguous(w, p.native().data(), p.native().size());
  }
  static std::filesystem::path load(reader& r) {
    std::filesystem::path::string_type s;
    load_contiguous(r, s);
    return std::filesystem::path(std::move(s));
  }
};

// --- sequences -------------------------------------------------------------

template <class C>
struct sequence_codec : codec_base<typename C::value_type> {
  using E = typename C::value_type;
  static constexpr bool ok = transferable_v<E>;
  static constexpr std::size_t min_size = 8;
  static void save(writer& w, const C& c) {
    w.put_size(c.size());
    for (const auto& e : c) save_element(w, e);
  }
  static C load(reader& r) {
    std::size_t n = load_count<E>(r);
    C c;
    if constexpr (requires { c.reserve(n); }) c.reserve(n);
    for (std::size_t i = 0; i < n; ++i) c.push_back(load_element<E>(r));
    return c;
  }
};

template <class E, class A>
struct std_codec<std::vector<E, A>> : sequence_codec<std::vector<E, A>> {
  using V = std::vector<E, A>;
  static void save(writer& w, const V& v) {
    if constexpr (bytes_safe<E>)
      save_contiguous(w, v.data(), v.size());
    else
      sequence_codec<V>::save(w, v);
  }
  static V load(reader& r) {
    if constexpr (bytes_safe<E>) {
      V v;
      load_contiguous(r, v);
      return v;
    } else {
      return sequence_codec<V>::load(r);
    }
  }
};

template <class A>
struct std_codec<std::vector<bool, A>> : codec_base<bool> {
  using V = std::vector<bool, A>;
  static constexpr bool ok = true;
  static constexpr std::size_t min_size = 8;
  static void save(writer& w, const V& v) {
    w.put_size(v.size());
    for (bool b : v) w.put(static_cast<std::uint8_t>(b ? 1 : 0));
  }
  static V load(reader& r) {
    std::size_t n = r.get_count(1);
    V v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) v.push_back(r.get_bool());
    return v;
  }
};

template <class E, class A>
struct std_codec<std::deque<E, A>> : sequence_codec<std::deque<E, A>> {};
template <class E, class A>
struct std_codec<std::list<E, A>> : sequence_codec<std::list<E, A>> {};

template <class E, std::size_t N>
struct std_codec<std::array<E, N>> : codec_base<E> {
  using V = std::array<E, N>;
  static constexpr bool ok = transferable_v<E>;
  static constexpr bool bytes = N != 0 && bytes_safe<E>;
  static constexpr std::size_t min_size = N * min_wire<E>;
  static void save(writer& w, const V& v) {
    if constexpr (bytes)
      w.write_bytes(v.data(), sizeof(V));
    else
      for (const auto& e : v) detail::save(w, e);
  }
  static V load(reader& r) {
    if constexpr (bytes) {
      V v;
      r.read_bytes(v.data(), sizeof(V));
      return v;
    } else if constexpr (std::is_default_constructible_v<E>) {
      V v{};
      for (auto& e : v) detail::load_into(r, e);
      return v;
    } else {
      return load_each(r, std::make_index_sequence<N>{});
    }
  }
  template <std::size_t... I>
  static V load_each(reader& r, std::index_sequence<I...>) {
    return V{((void)I, detail::load<E>(r))...};  // braces: left to right
  }
};

// --- associative -----------------------------------------------------------

template <class C>
struct set_codec : codec_base<typename C::value_type> {
  using K = typename C::value_type;
  static constexpr bool ok = transferable_v<K> && std::is_default_constructible_v<C>;
  static constexpr std::size_t min_size = 8;
  static void save(writer& w, const C& c) {
    w.put_size(c.size());
    for (const auto& e : c) save_element(w, e);
  }
  static C load(reader& r) {
    std::size_t n = load_count<K>(r);
    C c;
    if constexpr (requires { c.reserve(n); }) c.reserve(n);
    for (std::size_t i = 0; i < n; ++i) c.emplace_hint(c.end(), load_element<K>(r));
    return c;
  }
};

template <class C>
struct map_codec : codec_base<typename C::key_type, typename C::mapped_type> {
  using K = typename C::key_type;
  using V = typename C::mapped_type;
  using P = typename C::value_type;
  static constexpr bool ok =
      transferable_v<K> && transferable_v<V> && std::is_default_constructible_v<C>;
  static constexpr std::size_t min_size = 8;
  static void save(writer& w, const C& c) {
    w.put_size(c.size());
    for (const auto& e : c) save_element(w, e);
  }
  static C load(reader& r) {
    std::size_t n = load_count<P>(r);
    C c;
    if constexpr (requires { c.reserve(n); }) c.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (min_wire<P> == 0) {
        if (r.get<std::uint8_t>() != 0) reader::fail("bad element marker");
      }
      K k = detail::load<K>(r);  // key first: argument order is unspecified
      V v = detail::load<V>(r);
      c.emplace_hint(c.end(), std::move(k), std::move(v));
    }
    return c;
  }
};

template <class K, class Cmp, class A>
struct std_codec<std::set<K, Cmp, A>> : set_codec<std::set<K, Cmp, A>> {};
template <class K, class Cmp, class A>
struct std_codec<std::multiset<K, Cmp, A>> : set_codec<std::multiset<K, Cmp, A>> {};
template <class K, class H, class Eq, class A>
struct std_codec<std::unordered_set<K, H, Eq, A>> : set_codec<std::unordered_set<K, H, Eq, A>> {};
template <class K, class H, class Eq, class A>
struct std_codec<std::unordered_multiset<K, H, Eq, A>>
    : set_codec<std::unordered_multiset<K, H, Eq, A>> {};
template <class K, class V, class Cmp, class A>
struct std_codec<std::map<K, V, Cmp, A>> : map_codec<std::map<K, V, Cmp, A>> {};
template <class K, class V, class Cmp, class A>
struct std_codec<std::multimap<K, V, Cmp, A>> : map_codec<std::multimap<K, V, Cmp, A>> {};
template <class K, class V, class H, class Eq, class A>
struct std_codec<std::unordered_map<K, V, H, Eq, A>>
    : map_codec<std::unordered_map<K, V, H, Eq, A>> {};
template <class K, class V, class H, class Eq, class A>
struct std_codec<std::unordered_multimap<K, V, H, Eq, A>>
    : map_codec<std::unordered_multimap<K, V, H, Eq, A>> {};

// --- products and sums -----------------------------------------------------

template <class A, class B>
struct std_codec<std::pair<A, B>> : codec_base<A, B> {
  using P = std::pair<A, B>;
  static constexpr bool ok = transferable_v<A> && transferable_v<B>;
  static constexpr std::size_t min_size = min_wire<A> + min_wire<B>;
  static void save(writer& w, const P& p) {
    detail::save(w, p.first);
    detail::save(w, p.second);
  }
  static P load(reader& r) { return P{detail::load<A>(r), detail::load<B>(r)}; }  // in order
};

template <class... E>
struct std_codec<std::tuple<E...>> : codec_base<E...> {
  using T = std::tuple<E...>;
  static constexpr bool ok = (transferable_v<E> && ...);
  static constexpr std::size_t min_size = (std::size_t{0} + ... + min_wire<E>);
  static void save(writer& w, const T& t) {
    std::apply([&w](const auto&... e) { (detail::save(w, e), ...); }, t);
  }
  static T load(reader& r) { return T{detail::load<E>(r)...}; }  // braces: left to right
};

template <class E>
struct std_codec<std::optional<E>> : codec_base<E> {
  using O = std::optional<E>;
  static constexpr bool ok = transferable_v<E>;
  static constexpr std::size_t min_size = 1;
  static void save(writer& w, const O& o) {
    w.put(static_cast<std::uint8_t>(o.has_value() ? 1 : 0));
    if (o) detail::save(w, *o);
  }
  static O load(reader& r) {
    if (!r.get_bool()) return O{};
    return O(std::in_place, detail::load<E>(r));
  }
};

template <>
struct std_codec<std::monostate> : codec_base<> {
  static constexpr bool ok = true;
  static constexpr std::size_t min_size = 0;
  static void save(writer&, const std::monostate&) {}
  static std::monostate load(reader&) { return {}; }
};

template <class... E>
struct std_codec<std::variant<E...>> : codec_base<E...> {
  using V = std::variant<E...>;
  using index_type = std::conditional_t<(sizeof...(E) < 256), std::uint8_t, std::uint32_t>;
  static constexpr bool ok = (transferable_v<E> && ...);
  static constexpr std::size_t min_size = sizeof(index_type);
  static void save(writer& w, const V& v) {
    if (v.valueless_by_exception())
      throw ValueError("a valueless std::variant cannot be transferred");
    w.put(static_cast<index_type>(v.index()));
    std::visit([&w](const auto& e) { detail::save(w, e); }, v);
  }
  static V load(reader& r) {
    std::size_t i = r.get<index_type>();
    if (i >= sizeof...(E)) reader::fail(fmt::format("variant index {} out of range", i));
    return load_alternative(r, i, std::index_sequence_for<E...>{});
  }
  template <std::size_t I>
  static V load_at(reader& r) {
    return V(std::in_place_index<I>, detail::load<std::variant_alternative_t<I, V>>(r));
  }
  template <std::size_t... I>
  static V load_alternative(reader& r, std::size_t i, std::index_sequence<I...>) {
    static constexpr V (*table[])(reader&) = {&load_at<I>...};
    return table[i](r);
  }
};

// --- numbers with structure ------------------------------------------------

template <class E>
struct std_codec<std::complex<E>> : codec_base<E> {
  static constexpr bool ok = std::is_arithmetic_v<E>;
  static constexpr bool bytes = bytes_safe<E>;
  static constexpr std::size_t min_size = 2 * sizeof(E);
  static void save(writer& w, const std::complex<E>& c) {
    w.put(c.real());
    w.put(c.imag());
  }
  static std::complex<E> load(reader& r) {
    E re = r.get<E>();
    E im = r.get<E>();
    return {re, im};
  }
};

template <class R, class P>
struct std_codec<std::chrono::duration<R, P>> : codec_base<R> {
  using D = std::chrono::duration<R, P>;
  static constexpr bool ok = transferable_v<R>;
  static constexpr bool bytes = bytes_safe<R>;
  static constexpr std::size_t min_size = min_wire<R>;
  static void save(writer& w, const D& d) { detail::save(w, d.count()); }
  static D load(reader& r) { return D(detail::load<R>(r)); }
};

template <class C, class D>
struct std_codec<std::chrono::time_point<C, D>> : codec_base<D> {
  using T = std::chrono::time_point<C, D>;
  static constexpr bool ok = transferable_v<D>;
  static constexpr bool bytes = bytes_safe<D>;
  static constexpr std::size_t min_size = min_wire<D>;
  static void save(writer& w, const T& t) { detail::save(w, t.time_since_epoch()); }
  static T load(reader& r) { return T(detail::load<D>(r)); }
};

}  // namespace multiprocessing::detail
