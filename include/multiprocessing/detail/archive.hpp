#pragma once
// The binary archive of the transfer layer: writer/reader, the Transferable
// concept and the save/load dispatch for every type it accepts.
//
// Format: values in native byte order and native sizes, no padding between
// values; lengths and counts are 8 bytes. It is not portable across machines
// or builds, which is fine: both ends always run the same binary.
//
// Safety of reading: every read is checked against the end of the input and
// throws UnpicklingError past it; a count is accepted only if the remaining
// bytes could hold that many elements (each element takes at least one byte,
// see min_wire), so no allocation is ever larger than the input justifies;
// bool, optional and variant tags are validated; nesting through user types
// is bounded. Enum values are copied as they are.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>
#include <span>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "aggregate.hpp"
#include "posix/module.hpp"
#include "type_name.hpp"

namespace multiprocessing {

/// Extension point: specialize with `static void save(detail::writer&, const T&)`
/// and `static T load(detail::reader&)` to make T transferable (the library's
/// handles do this; T need not be default-constructible).
template <class T>
struct transfer_traits {};

namespace detail {

/// How deep user types (serialize, save/load, transfer_traits, aggregates) may
/// nest while loading: hostile input cannot overflow the stack.
inline constexpr std::size_t max_load_depth = 512;

class writer;
class reader;

template <class T>
void save(writer& w, const T& v);
template <class T>
T load(reader& r);
template <class T>
void load_into(reader& r, T& v);

/// Appends values to a byte vector (which it does not own).
class writer {
 public:
  static constexpr bool is_loading = false;
  static constexpr bool is_saving = true;

  explicit writer(std::vector<std::byte>& out) noexcept : out_(&out) {}

  void write_bytes(const void* data, std::size_t n) {
    auto p = static_cast<const std::byte*>(data);
    out_->insert(out_->end(), p, p + n);
  }
  /// Writes an arithmetic value as its bytes.
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    write_bytes(&v, sizeof v);
  }
  void put_size(std::size_t n) { put(static_cast<std::uint64_t>(n)); }

  template <class... T>
  void operator()(const T&... v) {
    (detail::save(*this, v), ...);
  }
  template <class T>
  writer& operator&(const T& v) {
    detail::save(*this, v);
    return *this;
  }
  template <class T>
  writer& operator<<(const T& v) {
    detail::save(*this, v);
    return *this;
  }

  std::vector<std::byte>& buffer() noexcept { return *out_; }

 private:
  std::vector<std::byte>* out_;
};

/// Reads values from a byte span; every read is bounds-checked.
class reader {
 public:
  static constexpr bool is_loading = true;
  static constexpr bool is_saving = false;

  explicit reader(std::span<const std::byte> in) noexcept
      : pos_(in.data()), end_(in.data() + in.size()) {}

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }

  /// The next n bytes, consumed; UnpicklingError if fewer remain.
  const std::byte* take(std::size_t n) {
    if (n > remaining()) fail_truncated(n);
    const std::byte* p = pos_;
    pos_ += n;
    return p;
  }
  void read_bytes(void* out, std::size_t n) {
    const std::byte* p = take(n);
    if (n != 0) std::memcpy(out, p, n);
  }
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T> && !std::is_same_v<T, bool>);
    T v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  /// A count of elements each at least min_size bytes long: never more than the
  /// rest of the input can hold.
  std::size_t get_count(std::size_t min_size) {
    auto n = get<std::uint64_t>();
    if (n > remaining() / (min_size == 0 ? 1 : min_size))
      fail(fmt::format("a count of {} elements does not fit in the {} bytes left", n, remaining()));
    return static_cast<std::size_t>(n);
  }
  bool get_bool() {
    auto b = get<std::uint8_t>();
    if (b > 1) fail(fmt::format("invalid bool byte {}", b));
    return b == 1;
  }
  /// UnpicklingError unless every byte was consumed.
  void expect_end() const {
    if (pos_ != end_) fail(fmt::format("{} trailing bytes after the value", remaining()));
  }

  template <class... T>
  void operator()(T&... v) {
    (detail::load_into(*this, v), ...);
  }
  template <class T>
  reader& operator&(T& v) {
    detail::load_into(*this, v);
    return *this;
  }
  template <class T>
  reader& operator>>(T& v) {
    detail::load_into(*this, v);
    return *this;
  }

  [[noreturn]] static void fail(std::string_view why) {
    throw UnpicklingError(fmt::format("malformed message: {}", why));
  }

  /// Counts nesting of user types while loading.
  class depth_guard {
   public:
    explicit depth_guard(reader& r) : r_(r) {
      if (++r_.depth_ > max_load_depth) {
        --r_.depth_;
        fail(fmt::format("values nested more than {} levels deep", max_load_depth));
      }
    }
    ~depth_guard() { --r_.depth_; }
    depth_guard(const depth_guard&) = delete;
    depth_guard& operator=(const depth_guard&) = delete;

   private:
    reader& r_;
  };

 private:
  [[noreturn]] void fail_truncated(std::size_t n) const {
    fail(fmt::format("truncated: {} bytes needed, {} left", n, remaining()));
  }

  const std::byte* pos_;
  const std::byte* end_;
  std::size_t depth_ = 0;
};

// ---------------------------------------------------------------------------
// Which kind of type T is, for the dispatch.

template <class T>
concept has_transfer_traits = requires(writer& w, reader& r, const T& v) {
  transfer_traits<T>::save(w, v);
  { transfer_traits<T>::load(r) } -> std::convertible_to<T>;
};
template <class T>
concept has_member_serialize = requires(T& v, writer& w, reader& r) {
  v.serialize(w);
  v.serialize(r);
};
template <class T>
concept has_member_serialize_versioned = requires(T& v, writer& w, reader& r) {
  v.serialize(w, 0u);
  v.serialize(r, 0u);
};
template <class T>
concept has_member_save_load = requires(const T& c, T& v, writer& w, reader& r) {
  c.save(w);
  v.load(r);
};
template <class T>
concept has_free_serialize = requires(T& v, writer& w, reader& r) {
  serialize(w, v);  // found by argument-dependent lookup in T's namespace
  serialize(r, v);
};
template <class T>
concept has_user_serialize = has_member_serialize<T> || has_member_serialize_versioned<T> ||
                             has_member_save_load<T> || has_free_serialize<T>;

/// Types of the std library the archive knows; specialized in std_codecs below.
template <class T>
struct std_codec {
  static constexpr bool known = false;
};

enum class kind {
  none,
  traits,       // transfer_traits<T>
  user,         // serialize / save+load
  boolean,      // validated byte
  bytes,        // copied as its bytes (arithmetic, enums, safe aggregates)
  std_type,     // std_codec<T>
  function,     // function pointer: (module, offset, symbol), checked on load
  fields,       // aggregate, field by field
};

template <class T>
consteval kind kind_of();

template <class T>
inline constexpr bool transferable_v =
    !std::is_reference_v<T> && kind_of<std::remove_cv_t<T>>() != kind::none;

template <class T>
struct transferable_pred : std::bool_constant<transferable_v<T>> {};

template <class T>
consteval bool compute_bytes_safe();

/// T may be copied as its bytes, both ways, and every byte pattern is a valid
/// T (no bool, no pointer, no reference, no user serialization).
template <class T>
inline constexpr bool bytes_safe = compute_bytes_safe<T>();

template <class T>
struct bytes_safe_pred : std::bool_constant<bytes_safe<T>> {};

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
consteval bool aggregate_bytes_safe() {
  constexpr std::size_t n = aggregate::count<T>();
  if constexpr (n == aggregate::not_countable || aggregate::has_base<T>) {
    return false;
  } else if constexpr (n > aggregate::max_fields) {
    // Too many elements to check one by one: trivially copyable aggregates
    // this large are taken on trust (they might hide a pointer member).
    return true;
  } else {
    return aggregate::all_elements<T, n, bytes_safe_pred>;
  }
}

template <class T>
consteval bool compute_bytes_safe() {
  if constexpr (std::is_const_v<T> || std::is_volatile_v<T> || std::is_reference_v<T>) {
    return false;
  } else if constexpr (has_transfer_traits<T> || std::is_same_v<T, bool>) {
    return false;
  } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    return true;
  } else if constexpr (std::is_array_v<T>) {
    return std::extent_v<T> != 0 && bytes_safe<std::remove_extent_t<T>>;
  } else if constexpr (!std::is_class_v<T> || has_user_serialize<T>) {
    return false;
  } else if constexpr (std_codec<T>::known) {
    return std_codec<T>::bytes;
  } else if constexpr (std::is_aggregate_v<T> && std::is_trivially_copyable_v<T>) {
    return aggregate_bytes_safe<T>();
  } else {
    return false;
  }
}

template <class T>
inline constexpr bool is_function_pointer =
    std::is_pointer_v<T> && std::is_function_v<std::remove_pointer_t<T>>;

template <class T, class List>
struct all_fields_ok;
template <class T, class... F>
struct all_fields_ok<T, aggregate::type_list<F...>>
    : std::bool_constant<((!std::is_reference_v<F> && !std::is_const_v<F> && transferable_v<F>) &&
                          ...)> {};

/// Aggregates that are not bytes_safe (bool fields, std::string fields, ...)
/// go field by field through structured bindings: at most max_fields fields,
/// no base class, no C array member.
template <class T>
consteval bool aggregate_fields_ok() {
  constexpr std::size_t n = aggregate::count<T>();
  if constexpr (n == aggregate::not_countable || n == 0 || n > aggregate::max_fields ||
                aggregate::has_base<T>) {
    return false;
  } else if constexpr (!aggregate::all_elements<T, n, transferable_pred>) {
    return false;  // checked first: no structured binding of a type we reject anyway
  } else {
    return all_fields_ok<T, aggregate::field_types<T, n>>::value;
  }
}

template <class T>
consteval kind kind_of() {
  if constexpr (std::is_reference_v<T> || std::is_void_v<T> || std::is_const_v<T> ||
                std::is_volatile_v<T>) {
    return kind::none;
  } else if constexpr (has_transfer_traits<T>) {
    return kind::traits;
  } else if constexpr (std::is_same_v<T, bool>) {
    return kind::boolean;
  } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    return kind::bytes;
  } else if constexpr (is_function_pointer<T>) {
    return kind::function;
  } else if constexpr (!std::is_class_v<T> || std::is_union_v<T>) {
    return kind::none;  // object pointers, member pointers, C arrays, unions
  } else if constexpr (has_user_serialize<T>) {
    return std::is_default_constructible_v<T> ? kind::user : kind::none;
  } else if constexpr (std_codec<T>::known) {
    return std_codec<T>::ok ? kind::std_type : kind::none;
  } else if constexpr (std::is_aggregate_v<T>) {
    if constexpr (bytes_safe<T>)
      return kind::bytes;
    else if constexpr (aggregate_fields_ok<T>())
      return kind::fields;
    else
      return kind::none;
  } else {
    return kind::none;
  }
}

// ---------------------------------------------------------------------------
// Minimum encoded size: bounds counts on load. Zero for types that can encode
// to nothing (unknown user types, monostate, empty tuples); containers put a
// one-byte marker before each such element so every element costs a byte.

template <class T>
consteval std::size_t compute_min_wire();

template <class T>
inline constexpr std::size_t min_wire = compute_min_wire<std::remove_cv_t<T>>();

template <class List>
struct sum_min_wire;
template <class... F>
struct sum_min_wire<aggregate::type_list<F...>>
    : std::integral_constant<std::size_t, (std::size_t{0} + ... + min_wire<F>)> {};

template <class T>
consteval std::size_t compute_min_wire() {
  constexpr kind k = kind_of<T>();
  if constexpr (k == kind::boolean) {
    return 1;
  } else if constexpr (k == kind::bytes) {
    return sizeof(T);
  } else if constexpr (k == kind::function) {
    return 24;
  } else if constexpr (k == kind::std_type) {
    return std_codec<T>::min_size;
  } else if constexpr (k == kind::fields) {
    return sum_min_wire<aggregate::field_types<T, aggregate::count<T>()>>::value;
  } else {
    return 0;
  }
}

/// Elements of containers: a zero-byte marker before elements that may encode
/// to nothing, so a count can always be checked against the bytes left.
template <class E>
void save_element(writer& w, const E& e) {
  if constexpr (min_wire<E> == 0) w.put(std::uint8_t{0});
  detail::save(w, e);
}
template <class E>
E load_element(reader& r) {
  if constexpr (min_wire<E> == 0) {
    if (r.get<std::uint8_t>() != 0) reader::fail("bad element marker");
  }
  return detail::load<E>(r);
}
template <class E>
std::size_t load_count(reader& r) {
  return r.get_count(min_wire<E> == 0 ? 1 : min_wire<E>);
}

// ---------------------------------------------------------------------------
// Compile-time diagnostics: the instantiation context names the type
// (assert_transferable<Widget*>) and the message says why.

enum class reason {
  ok,
  reference,
  pointer,
  member_pointer,
  c_array,
  union_type,
  not_default_constructible,
  element,            // a std container/tuple/... holds a non-transferable type
  aggregate_base,
  aggregate_uncountable,
  aggregate_field,    // a field is a pointer, reference, const or not transferable
  unknown_class,
  other,
};

template <class T>
consteval reason reason_of() {
  if constexpr (std::is_reference_v<T>)
    return reason::reference;
  else if constexpr (transferable_v<T>)
    return reason::ok;
  else if constexpr (std::is_pointer_v<T>)
    return reason::pointer;
  else if constexpr (std::is_member_pointer_v<T>)
    return reason::member_pointer;
  else if constexpr (std::is_array_v<T>)
    return reason::c_array;
  else if constexpr (std::is_union_v<T>)
    return reason::union_type;
  else if constexpr (!std::is_class_v<T>)
    return reason::other;
  else if constexpr (has_user_serialize<T>)
    return reason::not_default_constructible;
  else if constexpr (std_codec<T>::known)
    return reason::element;
  else if constexpr (std::is_aggregate_v<T>) {
    constexpr std::size_t n = aggregate::count<T>();
    if constexpr (n == aggregate::not_countable)
      return reason::aggregate_uncountable;
    else if constexpr (aggregate::has_base<T>)
      return reason::aggregate_base;
    else
      return reason::aggregate_field;
  } else
    return reason::unknown_class;
}

template <class T>
struct assert_transferable;
template <class T>
constexpr bool diagnose();

inline constexpr bool diagnose_first_bad(aggregate::type_list<>) { return true; }
template <class F, class... R>
constexpr bool diagnose_first_bad(aggregate::type_list<F, R...>) {
  if constexpr (!transferable_v<F> || std::is_const_v<F>)
    return diagnose<F>();
  else
    return diagnose_first_bad(aggregate::type_list<R...>{});
}

template <class T>
constexpr bool explain_inner() {
  constexpr reason why = reason_of<T>();
  if constexpr (why == reason::element) {
    return diagnose_first_bad(typename std_codec<T>::elements{});
  } else if constexpr (why == reason::aggregate_field) {
    // Names the first bad field's type in a second diagnostic.
    constexpr std::size_t n = aggregate::count<T>();
    if constexpr (n >= 1 && n <= aggregate::max_fields)
      return diagnose_first_bad(aggregate::field_types<T, n>{});
    else
      return true;
  } else {
    return true;
  }
}

template <class T>
struct assert_transferable {
  static constexpr reason why = reason_of<T>();
  static_assert(why != reason::reference,
                "this type is not transferable: a reference cannot cross a process boundary; "
                "send the value");
  static_assert(why != reason::pointer,
                "this type is not transferable: a raw pointer cannot cross a process boundary; "
                "send the pointee, an index, or a library handle");
  static_assert(why != reason::member_pointer,
                "this type is not transferable: member pointers cannot cross a process boundary");
  static_assert(why != reason::c_array,
                "this type is not transferable: a C array; use std::array or std::vector");
  static_assert(why != reason::union_type,
                "this type is not transferable: a union; use std::variant");
  static_assert(why != reason::not_default_constructible,
                "this type is not transferable: it has serialize/save/load but no default "
                "constructor; add one or specialize multiprocessing::transfer_traits");
  static_assert(why != reason::element,
                "this type is not transferable: it holds an element type that is not "
                "transferable (see the next error)");
  static_assert(why != reason::aggregate_base,
                "this type is not transferable: an aggregate with a base class; give it a "
                "member serialize(Archive&)");
  static_assert(why != reason::aggregate_uncountable,
                "this type is not transferable: an aggregate with reference members or "
                "fields that cannot be value-initialized");
  static_assert(why != reason::aggregate_field,
                "this type is not transferable: an aggregate is transferable only if every "
                "field is (no pointer, reference, const or non-transferable field); give it "
                "a member serialize(Archive&) to choose what is sent");
  static_assert(why != reason::unknown_class,
                "this type is not transferable: give it a member template <class Archive> "
                "void serialize(Archive&), or save/load members, or specialize "
                "multiprocessing::transfer_traits");
  static_assert(why != reason::other, "this type is not transferable");
  static constexpr bool value = true;  // the static_asserts above report
};

/// Reports why T is not transferable: first the inner culprit (an element or
/// field type, recursively), then T itself. Always true.
template <class T>
constexpr bool diagnose() {
  (void)explain_inner<T>();
  (void)assert_transferable<T>::why;
  return true;
}

[[noreturn]] inline void not_transferable_at_run_time() {
  throw UnpicklingError("not transferable");  // unreachable: a static_assert fired first
}

// ---------------------------------------------------------------------------
// The dispatch.

template <class Archive, class T>
void call_user_serialize(Archive& ar, T& v) {
  if constexpr (has_member_serialize<T>)
    v.serialize(ar);
  else if constexpr (has_member_serialize_versioned<T>)
    v.serialize(ar, 0u);
  else if constexpr (has_member_save_load<T>) {
    if constexpr (Archive::is_loading)
      v.load(ar);
    else
      std::as_const(v).save(ar);
  } else
    serialize(ar, v);
}

/// Appends v to w. A type that is not transferable is a compile-time error.
template <class T>
void save(writer& w, const T& v) {
  using U = std::remove_cv_t<T>;
  constexpr kind k = kind_of<U>();
  if constexpr (k == kind::none) {
    (void)diagnose<U>();
  } else if constexpr (k == kind::traits) {
    transfer_traits<U>::save(w, v);
  } else if constexpr (k == kind::user) {
    // serialize() is one member for both directions, hence non-const (as in cereal).
    call_user_serialize(w, const_cast<U&>(v));
  } else if constexpr (k == kind::boolean) {
    w.put(static_cast<std::uint8_t>(v ? 1 : 0));
  } else if constexpr (k == kind::bytes) {
    w.write_bytes(std::addressof(v), sizeof(U));
  } else if constexpr (k == kind::std_type) {
    std_codec<U>::save(w, v);
  } else if constexpr (k == kind::function) {
    auto where = posix::locate_function(reinterpret_cast<const void*>(v));
    w.put(where.code.module);
    w.put(where.code.offset);
    w.put(where.symbol);
  } else if constexpr (k == kind::fields) {
    aggregate::visit<aggregate::count<U>()>(v, [&w](const auto&... f) { (detail::save(w, f), ...); });
  }
}

/// Reads a T from r; malformed input throws UnpicklingError.
template <class T>
T load(reader& r) {
  using U = std::remove_cv_t<T>;
  constexpr kind k = kind_of<U>();
  if constexpr (k == kind::none) {
    (void)diagnose<U>();
    not_transferable_at_run_time();
  } else if constexpr (k == kind::traits) {
    reader::depth_guard guard(r);
    return transfer_traits<U>::load(r);
  } else if constexpr (k == kind::user) {
    reader::depth_guard guard(r);
    U v{};
    call_user_serialize(r, v);
    return v;
  } else if constexpr (k == kind::boolean) {
    return r.get_bool();
  } else if constexpr (k == kind::bytes) {
    if constexpr (std::is_trivially_default_constructible_v<U>) {
      U v;
      r.read_bytes(&v, sizeof v);
      return v;
    } else {
      U v{};
      r.read_bytes(&v, sizeof v);
      return v;
    }
  } else if constexpr (k == kind::std_type) {
    return std_codec<U>::load(r);
  } else if constexpr (k == kind::function) {
    auto module = r.get<std::uint64_t>();
    auto offset = r.get<std::uint64_t>();
    auto symbol = r.get<std::uint64_t>();
    return reinterpret_cast<U>(
        const_cast<void*>(posix::resolve_function(module, offset, symbol)));
  } else if constexpr (k == kind::fields) {
    reader::depth_guard guard(r);
    U v{};
    aggregate::visit<aggregate::count<U>()>(v, [&r](auto&... f) { (detail::load_into(r, f), ...); });
    return v;
  }
}

/// Reads into an existing object (the form `ar(x)` uses while loading).
template <class T>
void load_into(reader& r, T& v) {
  constexpr kind k = kind_of<std::remove_cv_t<T>>();
  if constexpr (k == kind::user) {
    reader::depth_guard guard(r);
    call_user_serialize(r, v);
  } else if constexpr (k == kind::bytes && !std::is_const_v<T>) {
    r.read_bytes(std::addressof(v), sizeof(T));
  } else {
    v = detail::load<T>(r);
  }
}

}  // namespace detail
}  // namespace multiprocessing

#include "std_codecs.hpp"
