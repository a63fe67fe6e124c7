#pragma once
// Looking inside aggregates without reflection: how many elements an
// aggregate has (aggregate-initialization with a value convertible to
// anything), whether it has a base class, whether every element satisfies a
// predicate (the same initialization with a value convertible only to types
// that satisfy it), and its fields through structured bindings.
//
// Limits, as in Boost.PFR: an element count covers at most max_fields; a C
// array member counts as one element per array element (brace elision), so
// field access through structured bindings is only right for aggregates
// without C array members. Predicate checks see through C arrays and nested
// aggregates (brace elision checks their elements one by one).

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace multiprocessing::detail::aggregate {

inline constexpr std::size_t max_fields = 16;
/// count() when T{} itself is ill-formed (reference members, fields without a default).
inline constexpr std::size_t not_countable = static_cast<std::size_t>(-1);

// Never called: the conversion operators below are only named in unevaluated
// requires-expressions, but some library templates instantiate their bodies.
template <class U>
U* no_object() noexcept {
  return nullptr;
}

/// Converts to any type (as an lvalue): counts elements.
struct any_element {
  template <class U>
  operator U&() const&& noexcept {
    return *no_object<U>();
  }
};

/// Converts only to a proper base class of T: T{base_probe<T>{}} is valid iff
/// T's first element is a base.
template <class T>
struct base_probe {
  template <class U>
    requires(std::is_class_v<U> && std::is_base_of_v<U, T> && !std::is_same_v<U, T>)
  operator U&() const&& noexcept {
    return *no_object<U>();
  }
};

// The checked converters convert to every type, but the conversion to a type
// that fails the check is deleted: initialization is then ill-formed instead of
// falling back to brace elision (which would let the rest of a nested
// aggregate be value-initialized, unchecked).

/// Converts as an lvalue; only non-const types that satisfy Pred are allowed:
/// rejects const& and && reference members and elements that fail Pred.
template <template <class> class Pred>
struct lvalue_if {
  template <class U>
    requires(!std::is_const_v<U> && Pred<U>::value)
  operator U&() const&& noexcept {
    return *no_object<U>();
  }
  template <class U>
    requires(std::is_const_v<U> || !Pred<U>::value)
  operator U&() const&& noexcept = delete;
};

/// Converts as a prvalue; only types that satisfy Pred are allowed: rejects &
/// members.
template <template <class> class Pred>
struct prvalue_if {
  template <class U>
    requires(Pred<U>::value)
  operator U() const&& noexcept;
  template <class U>
    requires(!Pred<U>::value)
  operator U() const&& noexcept = delete;
};

template <class T, class E, std::size_t... I>
constexpr bool init_with(std::index_sequence<I...>) noexcept {
  return requires { T{(void(I), E{})...}; };
}

template <class T, std::size_t N>
constexpr std::size_t count_from() noexcept {
  if constexpr (N > max_fields)
    return N;  // more elements than we look at
  else if constexpr (!init_with<T, any_element>(std::make_index_sequence<N + 1>{}))
    return N;
  else
    return count_from<T, N + 1>();
}

/// Number of elements of aggregate T (bases, fields, C array elements); a value
/// above max_fields means "more"; not_countable if T{} is ill-formed.
template <class T>
constexpr std::size_t count() noexcept {
  if constexpr (!requires { T{}; })
    return not_countable;
  else
    return count_from<T, 0>();
}

template <class T>
inline constexpr bool has_base = requires { T{base_probe<T>{}}; };

// T{any..., E (at position I), any...}: with N initializers valid and with N+1
// invalid means E initialized element I itself. (Checking E everywhere at once
// is not enough: when E refuses a nested aggregate, Clang falls back to brace
// elision, E initializes that aggregate's first member and its other members
// are value-initialized unchecked; the extra initializer catches that.)
template <class T, class E, std::size_t I, std::size_t... J>
constexpr bool init_at(std::index_sequence<J...>) noexcept {
  return requires { T{std::conditional_t<J == I, E, any_element>{}...}; };
}
template <class T, std::size_t N, class E, std::size_t I>
inline constexpr bool element_ok = init_at<T, E, I>(std::make_index_sequence<N>{}) &&
                                   !init_at<T, E, I>(std::make_index_sequence<N + 1>{});

template <class T, std::size_t N, template <class> class Pred, std::size_t... I>
constexpr bool all_elements_at(std::index_sequence<I...>) noexcept {
  return ((element_ok<T, N, lvalue_if<Pred>, I> && element_ok<T, N, prvalue_if<Pred>, I>) && ...);
}

/// Every one of the N elements of T is a non-reference satisfying Pred.
template <class T, std::size_t N, template <class> class Pred>
inline constexpr bool all_elements = all_elements_at<T, N, Pred>(std::make_index_sequence<N>{});

template <class... T>
struct type_list {};

template <class T>
T& fake_object() noexcept;  // only named inside decltype

// visit<N>(t, f) calls f(field1, ..., fieldN); fields<N, T>() names their
// declared types (references stay references).
#define MP_AGG_CASE(N, ...)                                            \
  if constexpr (Count == N) {                                          \
    auto& [__VA_ARGS__] = t;                                           \
    if constexpr (Types) {                                             \
      return std::type_identity<type_list<MP_AGG_DECLTYPES(__VA_ARGS__)>>{}; \
    } else {                                                           \
      return f(__VA_ARGS__);                                           \
    }                                                                  \
  } else
#define MP_AGG_DT1(a) decltype(a)
#define MP_AGG_DECLTYPES(...) MP_AGG_DT_N(__VA_ARGS__, MP_AGG_DT16, MP_AGG_DT15, MP_AGG_DT14, \
    MP_AGG_DT13, MP_AGG_DT12, MP_AGG_DT11, MP_AGG_DT10, MP_AGG_DT9, MP_AGG_DT8, MP_AGG_DT7,    \
    MP_AGG_DT6, MP_AGG_DT5, MP_AGG_DT4, MP_AGG_DT3, MP_AGG_DT2, MP_AGG_DT1)(__VA_ARGS__)
#define MP_AGG_DT_N(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, M, ...) M
#define MP_AGG_DT2(a, ...) decltype(a), MP_AGG_DT1(__VA_ARGS__)
#define MP_AGG_DT3(a, ...) decltype(a), MP_AGG_DT2(__VA_ARGS__)
#define MP_AGG_DT4(a, ...) decltype(a), MP_AGG_DT3(__VA_ARGS__)
#define MP_AGG_DT5(a, ...) decltype(a), MP_AGG_DT4(__VA_ARGS__)
#define MP_AGG_DT6(a, ...) decltype(a), MP_AGG_DT5(__VA_ARGS__)
#define MP_AGG_DT7(a, ...) decltype(a), MP_AGG_DT6(__VA_ARGS__)
#define MP_AGG_DT8(a, ...) decltype(a), MP_AGG_DT7(__VA_ARGS__)
#define MP_AGG_DT9(a, ...) decltype(a), MP_AGG_DT8(__VA_ARGS__)
#define MP_AGG_DT10(a, ...) decltype(a), MP_AGG_DT9(__VA_ARGS__)
#define MP_AGG_DT11(a, ...) decltype(a), MP_AGG_DT10(__VA_ARGS__)
#define MP_AGG_DT12(a, ...) decltype(a), MP_AGG_DT11(__VA_ARGS__)
#define MP_AGG_DT13(a, ...) decltype(a), MP_AGG_DT12(__VA_ARGS__)
#define MP_AGG_DT14(a, ...) decltype(a), MP_AGG_DT13(__VA_ARGS__)
#define MP_AGG_DT15(a, ...) decltype(a), MP_AGG_DT14(__VA_ARGS__)
#define MP_AGG_DT16(a, ...) decltype(a), MP_AGG_DT15(__VA_ARGS__)

template <std::size_t Count, bool Types, class T, class F>
constexpr decltype(auto) with_fields(T& t, F&& f) {
  MP_AGG_CASE(1, p1)
  MP_AGG_CASE(2, p1, p2)
  MP_AGG_CASE(3, p1, p2, p3)
  MP_AGG_CASE(4, p1, p2, p3, p4)
  MP_AGG_CASE(5, p1, p2, p3, p4, p5)
  MP_AGG_CASE(6, p1, p2, p3, p4, p5, p6)
  MP_AGG_CASE(7, p1, p2, p3, p4, p5, p6, p7)
  MP_AGG_CASE(8, p1, p2, p3, p4, p5, p6, p7, p8)
  MP_AGG_CASE(9, p1, p2, p3, p4, p5, p6, p7, p8, p9)
  MP_AGG_CASE(10, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10)
  MP_AGG_CASE(11, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11)
  MP_AGG_CASE(12, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12)
  MP_AGG_CASE(13, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13)
  MP_AGG_CASE(14, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14)
  MP_AGG_CASE(15, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15)
  MP_AGG_CASE(16, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15, p16) {
    if constexpr (Types)
      return std::type_identity<type_list<>>{};
    else
      return f();
  }
}

#undef MP_AGG_CASE
#undef MP_AGG_DECLTYPES
#undef MP_AGG_DT_N
#undef MP_AGG_DT1
#undef MP_AGG_DT2
#undef MP_AGG_DT3
#undef MP_AGG_DT4
#undef MP_AGG_DT5
#undef MP_AGG_DT6
#undef MP_AGG_DT7
#undef MP_AGG_DT8
#undef MP_AGG_DT9
#undef MP_AGG_DT10
#undef MP_AGG_DT11
#undef MP_AGG_DT12
#undef MP_AGG_DT13
#undef MP_AGG_DT14
#undef MP_AGG_DT15
#undef MP_AGG_DT16

struct no_visitor {};

/// Calls f(field...) on the N fields of t (N = count<T>(), no C array members).
template <std::size_t N, class T, class F>
constexpr decltype(auto) visit(T& t, F&& f) {
  return with_fields<N, false>(t, std::forward<F>(f));
}

/// type_list of the declared types of T's N fields.
template <class T, std::size_t N>
using field_types =
    typename decltype(with_fields<N, true>(fake_object<T>(), no_visitor{}))::type;

}  // namespace multiprocessing::detail::aggregate
