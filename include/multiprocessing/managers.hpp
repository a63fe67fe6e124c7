#pragma once
/// Python's multiprocessing.managers: a Manager that makes shared dicts,
/// lists, sets, Namespaces, values and arrays, reached through proxies.
///
/// There is no server process: each container lives in shared memory under
/// a robust process-shared lock, so one proxy operation costs about one
/// shared-memory access instead of a socket round trip. Proxies are copyable
/// handles; every copy, in this process, a forked child, or a process it was
/// transferred to (they are Transferable), refers to the same container.
/// Keys and values may be any Transferable type; keys compare equal when
/// their serialized bytes do.
///
/// Every operation is atomic with respect to the others and to a process
/// killed in the middle of one (the container is then as before that
/// operation). update() and extend() of many items are atomic too, except
/// that a process killed inside update() may leave a prefix of its items
/// applied. After Manager::shutdown() every proxy operation throws
/// mp::ProcessError.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "detail/handle_access.hpp"
#include "detail/manager_codec.hpp"
#include "detail/manager_container.hpp"
#include "detail/manager_control.hpp"
#include "detail/manager_errors.hpp"
#include "detail/manager_sequence_ops.hpp"
#include "detail/manager_table_ops.hpp"
#include "detail/posix/shm.hpp"
#include "detail/type_name.hpp"
#include "exceptions.hpp"
#include "queues.hpp"
#include "reduction.hpp"
#include "synchronize.hpp"

namespace multiprocessing {

class Manager;

namespace detail {

template <class T>
concept manager_item = transferable_v<T> && std::copy_constructible<T>;

/// Runs fn on a value in place (fn(T&)); what fn returns is ignored.
template <class T, class F>
struct apply_fn {
  F& fn;
  void operator()(T& v) { std::invoke(fn, v); }
};

/// The item sizes of a packed table (manager_table.hpp) of K -> V (V void:
/// a set), or {0, 0}: both stored as their bytes, in a word each.
template <class K, class V>
constexpr std::pair<std::uint32_t, std::uint32_t> packed_sizes() {
  constexpr bool key_ok = manager_raw_bytes<K> && sizeof(K) <= 8;
  if constexpr (std::is_void_v<V>) {
    if constexpr (key_ok) return {sizeof(K), 0};
    else return {0, 0};
  } else if constexpr (key_ok && manager_raw_bytes<V> && sizeof(V) <= 8) {
    return {sizeof(K), sizeof(V)};
  } else {
    return {0, 0};
  }
}

template <class K>
std::string key_error_message(const K& k, std::string_view what) {
  if constexpr (fmt::is_formattable<K>::value)
    return fmt::format("{} {} not found", what, k);
  else
    return fmt::format("{} not found", what);
}

/// What every proxy holds: its container, shared by every copy in this process.
class proxy_base {
 public:
  /// The container's segment name (what a transferred proxy carries).
  const std::string& name() const noexcept { return ref_->name(); }

 protected:
  proxy_base() = default;
  explicit proxy_base(std::shared_ptr<container> c) : ref_(std::move(c)) {}
  container& c() const noexcept { return *ref_; }
  friend bool same_container(const proxy_base& a, const proxy_base& b) noexcept {
    return a.ref_ == b.ref_ || a.ref_->name() == b.ref_->name();
  }

  friend struct handle_access;
  std::shared_ptr<container> ref_;
};

}  // namespace detail

/// A dict shared through a Manager (Python: DictProxy). Copyable handle.
template <class K, class V>
class DictProxy : public detail::proxy_base {
  static_assert(detail::manager_item<K> && detail::manager_item<V>,
                "DictProxy<K, V>: K and V must be Transferable and copyable");
  static_assert(detail::manager_key_ok<K>,
                "DictProxy<K, V>: keys are compared by their bytes, and K has padding bytes "
                "(or is long double); give K a serialize() member or use a std::tuple");

 public:
  using key_type = K;
  using mapped_type = V;

  /// What d[k] returns: reads convert to V (KeyError if absent), assignments
  /// set, and compound assignments (d[k] -= 1) are one atomic apply(). Like
  /// std::vector<bool>::reference, it must not outlive the expression's proxy.
  class reference {
   public:
    /// The value (KeyError if the key is absent).
    operator V() const { return d_->at(k_); }
    V get() const { return d_->at(k_); }
    reference& operator=(const V& v) {
      d_->set(k_, v);
      return *this;
    }
    reference& operator=(const reference& other) { return *this = other.get(); }
    template <class U>
    reference& operator+=(const U& u) { return update([&](V& v) { v += u; }); }
    template <class U>
    reference& operator-=(const U& u) { return update([&](V& v) { v -= u; }); }
    template <class U>
    reference& operator*=(const U& u) { return update([&](V& v) { v *= u; }); }
    template <class U>
    reference& operator/=(const U& u) { return update([&](V& v) { v /= u; }); }
    template <class U>
    reference& operator%=(const U& u) { return update([&](V& v) { v %= u; }); }
    template <class U>
    reference& operator|=(const U& u) { return update([&](V& v) { v |= u; }); }
    template <class U>
    reference& operator&=(const U& u) { return update([&](V& v) { v &= u; }); }
    template <class U>
    reference& operator^=(const U& u) { return update([&](V& v) { v ^= u; }); }
    reference& operator++() { return update([](V& v) { ++v; }); }
    reference& operator--() { return update([](V& v) { --v; }); }
    template <class U>
      requires(!std::is_same_v<U, reference>)
    friend bool operator==(const reference& r, const U& u) {
      return r.get() == u;
    }

   private:
    friend class DictProxy;
    reference(const DictProxy* d, K k) : d_(d), k_(std::move(k)) {}
    template <class F>
    reference& update(F fn) {
      d_->apply(k_, fn);
      return *this;
    }
    const DictProxy* d_;
    K k_;
  };

  /// d[k]: see reference. Blocks only on the dict's lock.
  reference operator[](K key) const { return reference(this, std::move(key)); }

  /// The value for k. Throws KeyError if absent.
  V at(const K& k) const {
    auto v = lookup(k);
    if (!v) throw KeyError(detail::key_error_message(k, "key"));
    return std::move(*v);
  }
  /// The value for k, or nullopt.
  std::optional<V> get(const K& k) const { return lookup(k); }
  /// The value for k, or `fallback`.
  V get(const K& k, const V& fallback) const {
    auto v = lookup(k);
    return v ? std::move(*v) : fallback;
  }
  /// d[k] = v.
  void set(const K& k, const V& v) const {
    if constexpr (packed) {
      detail::table_put_word<sizeof(K), sizeof(V)>(c(), word(k), word(v));
    } else {
      const auto kb = key(k);
      detail::table_put(c(), kb, detail::manager_encode(detail::manager_scratch(1), v));
    }
  }
  bool contains(const K& k) const { return detail::table_contains(c(), key(k)); }
  /// Removes k; returns how many were removed (0 or 1), as std::map::erase.
  std::size_t erase(const K& k) const { return detail::table_remove(c(), key(k)) ? 1 : 0; }
  /// Removes k and returns its value. Throws KeyError if absent.
  V pop(const K& k) const {
    auto v = detail::table_take<V>(c(), key(k));
    if (!v) throw KeyError(detail::key_error_message(k, "key"));
    return std::move(*v);
  }
  /// Removes k and returns its value, or returns `fallback` if absent.
  V pop(const K& k, const V& fallback) const {
    auto v = detail::table_take<V>(c(), key(k));
    return v ? std::move(*v) : fallback;
  }
  /// Removes and returns the most recently inserted item. KeyError if empty.
  std::pair<K, V> popitem() const {
    auto item = detail::table_take_last<K, V>(c());
    if (!item) throw KeyError("popitem(): dictionary is empty");
    return std::move(*item);
  }
  /// The value for k; if absent, sets it to `fallback` first (one atomic step).
  V setdefault(const K& k, const V& fallback = V{}) const {
    std::vector<std::byte> kbuf, vbuf;
    const auto kb = detail::make_key(detail::manager_encode(kbuf, k));
    return detail::table_setdefault<V>(c(), kb, fallback, detail::manager_encode(vbuf, fallback));
  }
  /// Sets every (key, value) of `items` (a map or a range of pairs).
  template <std::ranges::input_range R>
  void update(const R& items) const {
    std::vector<std::vector<std::byte>> keys, values;
    for (const auto& [k, v] : items) {
      keys.push_back(detail::manager_encode(static_cast<const K&>(k)));
      values.push_back(detail::manager_encode(static_cast<const V&>(v)));
    }
    c().locked([&](detail::container::session& ss) {
      for (std::size_t i = 0; i < keys.size(); ++i)
        detail::table_put(ss, detail::make_key(keys[i]), values[i]);
    });
  }
  void update(std::initializer_list<std::pair<const K, V>> items) const {
    update<std::initializer_list<std::pair<const K, V>>>(items);
  }
  std::size_t size() const { return detail::container_size(c()); }
  bool empty() const { return size() == 0; }
  void clear() const { detail::table_clear(c()); }
  /// The keys, in insertion order.
  std::vector<K> keys() const {
    std::vector<K> out;
    detail::table_visit(c(), [&](auto k, auto) { out.push_back(detail::manager_decode<K>(k)); });
    return out;
  }
  std::vector<V> values() const {
    std::vector<V> out;
    detail::table_visit(c(), [&](auto, auto v) { out.push_back(detail::manager_decode<V>(v)); });
    return out;
  }
  std::vector<std::pair<K, V>> items() const {
    std::vector<std::pair<K, V>> out;
    detail::table_visit(c(), [&](auto k, auto v) {
      out.emplace_back(detail::manager_decode<K>(k), detail::manager_decode<V>(v));
    });
    return out;
  }
  /// A snapshot as a std::map (Python: d.copy(), which is a plain dict).
  std::map<K, V> copy() const
    requires std::totally_ordered<K>
  {
    std::map<K, V> out;
    detail::table_visit(c(), [&](auto k, auto v) {
      out.emplace(detail::manager_decode<K>(k), detail::manager_decode<V>(v));
    });
    return out;
  }
  /// Beyond Python: fn(V&) on k's value and stores the result, as one atomic
  /// step (no other process sees or changes k in between). Returns the new
  /// value. Throws KeyError if absent, and whatever fn throws (then nothing
  /// changes). fn runs under the dict's lock: it must not use this dict.
  template <class F>
    requires std::invocable<F&, V&>
  V apply(const K& k, F&& fn) const {
    std::vector<std::byte> kbuf;
    const auto kb = detail::make_key(detail::manager_encode(kbuf, k));
    detail::apply_fn<V, F> call{fn};
    return detail::table_apply<V>(c(), kb, call, "apply(): key not found");
  }

  /// Same container.
  friend bool operator==(const DictProxy& a, const DictProxy& b) noexcept {
    return same_container(a, b);
  }

 private:
  friend class Manager;
  friend struct detail::handle_access;
  DictProxy(detail::attach_tag, std::shared_ptr<detail::container> c) : proxy_base(std::move(c)) {}
  static detail::encoded_key key(const K& k) {
    return detail::make_key(detail::manager_encode(detail::manager_scratch(0), k));
  }
  // Manager::dict makes a packed table for these K and V (manager_table.hpp):
  // the common operations then pass keys and values as words.
  static constexpr bool packed = detail::packed_sizes<K, V>().first != 0;
  template <class T>
  static std::uint64_t word(const T& v) noexcept {
    std::uint64_t w = 0;
    std::memcpy(&w, std::addressof(v), sizeof(T));
    return w;
  }
  std::optional<V> lookup(const K& k) const {
    if constexpr (packed)
      return detail::table_get_word<K, V>(c(), word(k));
    else
      return detail::table_get<V>(c(), key(k));
  }
};

/// A set shared through a Manager (Python 3.14: SetProxy). Copyable handle.
template <class T>
class SetProxy : public detail::proxy_base {
  static_assert(detail::manager_item<T>, "SetProxy<T>: T must be Transferable and copyable");
  static_assert(detail::manager_key_ok<T>,
                "SetProxy<T>: elements are compared by their bytes, and T has padding bytes "
                "(or is long double); give T a serialize() member or use a std::tuple");

 public:
  using value_type = T;

  /// Adds v (nothing if present).
  void add(const T& v) const { (void)detail::table_put_new(c(), key(v), {}); }
  /// Removes v if present.
  void discard(const T& v) const { (void)detail::table_remove(c(), key(v)); }
  /// Removes v. Throws KeyError if absent.
  void remove(const T& v) const {
    if (!detail::table_remove(c(), key(v))) throw KeyError(detail::key_error_message(v, "element"));
  }
  bool contains(const T& v) const { return detail::table_contains(c(), key(v)); }
  /// Removes and returns an element (the newest). Throws KeyError if empty.
  T pop() const {
    auto item = detail::table_take_last<T, std::tuple<>>(c());
    if (!item) throw KeyError("pop from an empty set");
    return std::move(item->first);
  }
  /// Adds every element of `items`.
  template <std::ranges::input_range R>
  void update(const R& items) const {
    std::vector<std::vector<std::byte>> keys;
    for (const auto& v : items) keys.push_back(detail::manager_encode(static_cast<const T&>(v)));
    c().locked([&](detail::container::session& ss) {
      for (auto& k : keys) {
        const auto kb = detail::make_key(k);
        if (!detail::table_find(ss.s(), kb.bytes, kb.hash).found) detail::table_put(ss, kb, {});
      }
    });
  }
  void update(std::initializer_list<T> items) const { update<std::initializer_list<T>>(items); }
  std::size_t size() const { return detail::container_size(c()); }
  bool empty() const { return size() == 0; }
  void clear() const { detail::table_clear(c()); }
  /// The elements, in insertion order.
  std::vector<T> values() const {
    std::vector<T> out;
    detail::table_visit(c(), [&](auto k, auto) { out.push_back(detail::manager_decode<T>(k)); });
    return out;
  }
  /// A snapshot as a std::set.
  std::set<T> copy() const
    requires std::totally_ordered<T>
  {
    std::set<T> out;
    detail::table_visit(c(), [&](auto k, auto) { out.insert(detail::manager_decode<T>(k)); });
    return out;
  }

  friend bool operator==(const SetProxy& a, const SetProxy& b) noexcept {
    return same_container(a, b);
  }

 private:
  friend class Manager;
  friend struct detail::handle_access;
  SetProxy(detail::attach_tag, std::shared_ptr<detail::container> c) : proxy_base(std::move(c)) {}
  static detail::encoded_key key(const T& v) {
    return detail::make_key(detail::manager_encode(detail::manager_scratch(0), v));
  }
};

namespace detail {

/// What ListProxy and ArrayProxy share: indexed access to a sequence.
template <class T, class Self>
class sequence_proxy : public proxy_base {
 public:
  using value_type = T;

  /// What l[i] returns: reads convert to T, assignments set, compound
  /// assignments are one atomic apply(). Must not outlive the proxy.
  class reference {
   public:
    operator T() const { return s_->get(i_); }
    T get() const { return s_->get(i_); }
    reference& operator=(const T& v) {
      s_->set(i_, v);
      return *this;
    }
    reference& operator=(const reference& other) { return *this = other.get(); }
    template <class U>
    reference& operator+=(const U& u) { return update([&](T& v) { v += u; }); }
    template <class U>
    reference& operator-=(const U& u) { return update([&](T& v) { v -= u; }); }
    template <class U>
    reference& operator*=(const U& u) { return update([&](T& v) { v *= u; }); }
    template <class U>
    reference& operator/=(const U& u) { return update([&](T& v) { v /= u; }); }
    reference& operator++() { return update([](T& v) { ++v; }); }
    reference& operator--() { return update([](T& v) { --v; }); }
    template <class U>
      requires(!std::is_same_v<U, reference>)
    friend bool operator==(const reference& r, const U& u) {
      return r.get() == u;
    }

   private:
    friend class sequence_proxy;
    reference(const sequence_proxy* s, std::ptrdiff_t i) : s_(s), i_(i) {}
    template <class F>
    reference& update(F fn) {
      s_->apply(i_, fn);
      return *this;
    }
    const sequence_proxy* s_;
    std::ptrdiff_t i_;
  };

  /// l[i] (negative i counts from the end); see reference. IndexError when used out of range.
  reference operator[](std::ptrdiff_t i) const { return reference(this, i); }
  /// Item i (negative counts from the end). Throws IndexError out of range.
  T get(std::ptrdiff_t i) const { return sequence_get<T>(c(), i, what()); }
  /// Sets item i. Throws IndexError out of range.
  void set(std::ptrdiff_t i, const T& v) const {
    sequence_set(c(), i, manager_encode(manager_scratch(0), v), what());
  }
  std::size_t size() const { return container_size(c()); }
  bool empty() const { return size() == 0; }
  /// A snapshot of the items.
  std::vector<T> copy() const { return sequence_copy<T>(c()); }
  /// Beyond Python: fn(T&) on item i and stores the result, as one atomic
  /// step. Returns the new value. IndexError out of range; fn must not use
  /// this container.
  template <class F>
    requires std::invocable<F&, T&>
  T apply(std::ptrdiff_t i, F&& fn) const {
    apply_fn<T, F> call{fn};
    return sequence_apply<T>(c(), i, call, what());
  }
  /// How many items equal v.
  std::size_t count(const T& v) const {
    return sequence_count(c(), manager_encode(manager_scratch(0), v));
  }
  /// The first position of v. Throws ValueError if absent.
  std::size_t index(const T& v) const {
    auto at = sequence_index_of(c(), manager_encode(manager_scratch(0), v));
    if (!at) throw ValueError(fmt::format("{}.index(x): x not in {}", what(), what()));
    return static_cast<std::size_t>(*at);
  }

  friend bool operator==(const Self& a, const Self& b) noexcept { return same_container(a, b); }

 protected:
  sequence_proxy() = default;
  explicit sequence_proxy(std::shared_ptr<container> c) : proxy_base(std::move(c)) {}
  static const char* what() noexcept { return Self::kind_name; }
};

}  // namespace detail

/// A list shared through a Manager (Python: ListProxy). Copyable handle.
template <class T>
class ListProxy : public detail::sequence_proxy<T, ListProxy<T>> {
  static_assert(detail::manager_item<T>, "ListProxy<T>: T must be Transferable and copyable");
  using base = detail::sequence_proxy<T, ListProxy<T>>;

 public:
  static constexpr const char* kind_name = "list";

  void append(const T& v) const {
    detail::sequence_append(this->c(), detail::manager_encode(detail::manager_scratch(0), v));
  }
  /// Appends every item of `items` (one atomic step).
  template <std::ranges::input_range R>
  void extend(const R& items) const {
    std::vector<std::vector<std::byte>> encoded;
    for (const auto& v : items) encoded.push_back(detail::manager_encode(static_cast<const T&>(v)));
    std::vector<detail::bytes_view> views(encoded.begin(), encoded.end());
    detail::sequence_extend(this->c(), views);
  }
  void extend(std::initializer_list<T> items) const { extend<std::initializer_list<T>>(items); }
  /// Inserts v before position i (Python's rule: clamped, negative from the end).
  void insert(std::ptrdiff_t i, const T& v) const {
    detail::sequence_insert_at(this->c(), i, detail::manager_encode(detail::manager_scratch(0), v));
  }
  /// Removes and returns item i (default: the last). IndexError if empty or out of range.
  T pop(std::ptrdiff_t i = -1) const { return detail::sequence_pop<T>(this->c(), i); }
  /// Removes the first item equal to v. Throws ValueError if absent.
  void remove(const T& v) const {
    if (!detail::sequence_remove(this->c(), detail::manager_encode(detail::manager_scratch(0), v)))
      throw ValueError("list.remove(x): x not in list");
  }
  void clear() const { detail::sequence_clear(this->c()); }

 private:
  friend class Manager;
  friend struct detail::handle_access;
  ListProxy(detail::attach_tag, std::shared_ptr<detail::container> c) : base(std::move(c)) {}
};

/// A fixed-length array shared through a Manager (Python: ArrayProxy).
template <class T>
class ArrayProxy : public detail::sequence_proxy<T, ArrayProxy<T>> {
  static_assert(detail::manager_item<T>, "ArrayProxy<T>: T must be Transferable and copyable");
  using base = detail::sequence_proxy<T, ArrayProxy<T>>;

 public:
  static constexpr const char* kind_name = "array";

 private:
  friend class Manager;
  friend struct detail::handle_access;
  ArrayProxy(detail::attach_tag, std::shared_ptr<detail::container> c) : base(std::move(c)) {}
};

/// One value shared through a Manager (Python: ValueProxy). Copyable handle.
template <class T>
class ValueProxy : public detail::proxy_base {
  static_assert(detail::manager_item<T>, "ValueProxy<T>: T must be Transferable and copyable");

 public:
  using value_type = T;

  T get() const { return detail::sequence_get<T>(c(), 0, "value"); }
  void set(const T& v) const {
    detail::sequence_set(c(), 0, detail::manager_encode(detail::manager_scratch(0), v), "value");
  }
  /// Python's v.value (read).
  T value() const { return get(); }
  /// Beyond Python: fn(T&) on the value as one atomic step; returns the new value.
  template <class F>
    requires std::invocable<F&, T&>
  T apply(F&& fn) const {
    detail::apply_fn<T, F> call{fn};
    return detail::sequence_apply<T>(c(), 0, call, "value");
  }

  friend bool operator==(const ValueProxy& a, const ValueProxy& b) noexcept {
    return same_container(a, b);
  }

 private:
  friend class Manager;
  friend struct detail::handle_access;
  ValueProxy(detail::attach_tag, std::shared_ptr<detail::container> c) : proxy_base(std::move(c)) {}
};

/// Attributes shared through a Manager (Python: Namespace / NamespaceProxy).
/// Each attribute may hold a value of any Transferable type; reading it as
/// another type throws UnpicklingError.
class NamespaceProxy : public detail::proxy_base {
 public:
  /// ns.name = v.
  template <class T>
    requires detail::transferable_v<T>
  void set(std::string_view name, const T& v) const {
    const auto kb = key(name);
    const std::vector<std::byte> bytes = dumps(v);
    detail::table_put(c(), kb, bytes);
  }
  /// ns.name. Throws KeyError (Python: AttributeError) if it was never set,
  /// UnpicklingError if it holds another type.
  template <class T>
  T get(std::string_view name) const {
    auto bytes = detail::table_get_bytes(c(), key(name));
    if (!bytes)
      throw KeyError(fmt::format("'Namespace' object has no attribute '{}'", name));
    return loads<T>(*bytes);
  }
  /// ns.name, or `fallback` if it was never set.
  template <class T>
  T get(std::string_view name, const T& fallback) const {
    auto bytes = detail::table_get_bytes(c(), key(name));
    return bytes ? loads<T>(*bytes) : fallback;
  }
  /// hasattr(ns, name).
  bool contains(std::string_view name) const { return detail::table_contains(c(), key(name)); }
  /// del ns.name; returns how many were removed (0 or 1).
  std::size_t erase(std::string_view name) const { return detail::table_remove(c(), key(name)); }
  /// The attribute names, in the order they were first set.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    detail::table_visit(c(), [&](auto k, auto) {
      out.push_back(detail::manager_decode<std::string>(k));
    });
    return out;
  }

  friend bool operator==(const NamespaceProxy& a, const NamespaceProxy& b) noexcept {
    return same_container(a, b);
  }

 private:
  friend class Manager;
  friend struct detail::handle_access;
  NamespaceProxy(detail::attach_tag, std::shared_ptr<detail::container> c)
      : proxy_base(std::move(c)) {}
  static detail::encoded_key key(std::string_view name) {
    return detail::make_key(detail::manager_encode(detail::manager_scratch(0), std::string(name)));
  }
};

/// Python's multiprocessing.Manager() (a SyncManager). Move-only owner: the
/// destructor or shutdown() ends every container it made; proxies then throw
/// ProcessError. A forked child may use the manager to make containers; only
/// the process that constructed it shuts it down.
class Manager {
 public:
  /// Starts the manager (no process: a small shared segment). Throws OSError
  /// if no segment can be made.
  Manager() : state_(std::make_unique<state>()) {}
  Manager(Manager&&) noexcept = default;
  Manager& operator=(Manager&& other) noexcept {
    if (this != &other) {
      shutdown();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~Manager() { shutdown(); }

  /// For code written like Python's `manager.start()`: the constructor
  /// already started it. Throws ProcessError after shutdown().
  void start() {
    if (live().registry->is_shut_down()) detail::throw_manager_shut_down();
  }

  /// A new, empty shared dict. Throws ProcessError after shutdown().
  template <class K, class V>
  DictProxy<K, V> dict() {
    constexpr auto packed = detail::packed_sizes<K, V>();
    return DictProxy<K, V>(detail::attach_tag{},
                           make<DictProxy<K, V>>(detail::store_shape::table, packed));
  }
  /// A new shared dict holding `init`'s items (a map or a range of pairs).
  template <class K, class V, std::ranges::input_range R>
  DictProxy<K, V> dict(const R& init) {
    auto d = dict<K, V>();
    d.update(init);
    return d;
  }
  template <class K, class V>
  DictProxy<K, V> dict(std::initializer_list<std::pair<const K, V>> init) {
    return dict<K, V, std::initializer_list<std::pair<const K, V>>>(init);
  }

  /// A new, empty shared list.
  template <class T>
  ListProxy<T> list() {
    return ListProxy<T>(detail::attach_tag{}, make<ListProxy<T>>(detail::store_shape::sequence));
  }
  /// A new shared list holding a copy of `init`.
  template <class T, std::ranges::input_range R>
  ListProxy<T> list(const R& init) {
    auto l = list<T>();
    l.extend(init);
    return l;
  }
  template <class T>
  ListProxy<T> list(std::initializer_list<T> init) {
    return list<T, std::initializer_list<T>>(init);
  }

  /// A new, empty shared set (Python 3.14).
  template <class T>
  SetProxy<T> set() {
    constexpr auto packed = detail::packed_sizes<T, void>();
    return SetProxy<T>(detail::attach_tag{}, make<SetProxy<T>>(detail::store_shape::table, packed));
  }
  template <class T, std::ranges::input_range R>
  SetProxy<T> set(const R& init) {
    auto s = set<T>();
    s.update(init);
    return s;
  }
  template <class T>
  SetProxy<T> set(std::initializer_list<T> init) {
    return set<T, std::initializer_list<T>>(init);
  }

  /// A new, empty Namespace.
  NamespaceProxy Namespace() {
    return NamespaceProxy(detail::attach_tag{}, make<NamespaceProxy>(detail::store_shape::table));
  }

  /// A new shared value (any Transferable T), initialized to `init`.
  template <class T>
  ValueProxy<T> Value(T init = {}) {
    ValueProxy<T> v(detail::attach_tag{}, make<ValueProxy<T>>(detail::store_shape::sequence));
    detail::sequence_append(*detail::handle_access::ref(v),
                            detail::manager_encode(detail::manager_scratch(0), init));
    return v;
  }
  /// A new shared array of n value-initialized T.
  template <class T>
  ArrayProxy<T> Array(std::size_t n) {
    return Array<T>(std::vector<T>(n));
  }
  /// A new shared array holding a copy of `init` (Python: Array(typecode, sequence)).
  template <class T, std::ranges::input_range R>
  ArrayProxy<T> Array(const R& init) {
    ArrayProxy<T> a(detail::attach_tag{}, make<ArrayProxy<T>>(detail::store_shape::sequence));
    std::vector<std::vector<std::byte>> encoded;
    for (const auto& v : init) encoded.push_back(detail::manager_encode(static_cast<const T&>(v)));
    std::vector<detail::bytes_view> views(encoded.begin(), encoded.end());
    detail::sequence_extend(*detail::handle_access::ref(a), views);
    return a;
  }
  template <class T>
  ArrayProxy<T> Array(std::initializer_list<T> init) {
    return Array<T, std::initializer_list<T>>(init);
  }

  /// A new Queue (maxsize 0: unbounded), kept alive by the manager until shutdown().
  template <class T>
  multiprocessing::Queue<T> Queue(std::size_t maxsize = 0) {
    return keep(multiprocessing::Queue<T>(maxsize));
  }
  /// A new JoinableQueue, kept alive by the manager until shutdown().
  template <class T>
  multiprocessing::JoinableQueue<T> JoinableQueue(std::size_t maxsize = 0) {
    return keep(multiprocessing::JoinableQueue<T>(maxsize));
  }

  /// A new Lock, kept alive by the manager until shutdown().
  multiprocessing::Lock Lock() { return keep(multiprocessing::Lock()); }
  multiprocessing::RLock RLock() { return keep(multiprocessing::RLock()); }
  multiprocessing::Semaphore Semaphore(int value = 1) {
    return keep(multiprocessing::Semaphore(value));
  }
  multiprocessing::BoundedSemaphore BoundedSemaphore(int value = 1) {
    return keep(multiprocessing::BoundedSemaphore(value));
  }
  multiprocessing::Event Event() { return keep(multiprocessing::Event()); }
  multiprocessing::Condition Condition() { return keep(multiprocessing::Condition()); }
  multiprocessing::Condition Condition(multiprocessing::Lock lock) {
    return keep(multiprocessing::Condition(std::move(lock)));
  }
  multiprocessing::Condition Condition(multiprocessing::RLock lock) {
    return keep(multiprocessing::Condition(std::move(lock)));
  }
  multiprocessing::Barrier Barrier(int parties) { return keep(multiprocessing::Barrier(parties)); }

  /// Ends the manager: every proxy operation then throws ProcessError, and
  /// every segment it made is removed (in every process, whoever made it).
  /// Idempotent; a forked copy of the manager does nothing. Never throws.
  void shutdown() noexcept {
    if (!state_ || state_->owner != detail::posix::shm_owner_pid()) return;
    state_->registry->shutdown();
    std::lock_guard guard(state_->mutex);
    state_->kept.clear();
  }

 private:
  struct state {
    std::shared_ptr<detail::manager_registry> registry = detail::manager_registry::create();
    int owner = detail::posix::shm_owner_pid();
    std::mutex mutex;
    std::vector<std::shared_ptr<const void>> kept;  // handles that live until shutdown
  };

  state& live() const {
    if (!state_) throw ProcessError("this Manager was moved from");
    return *state_;
  }
  template <class Proxy>
  std::shared_ptr<detail::container> make(
      detail::store_shape shape, std::pair<std::uint32_t, std::uint32_t> packed = {0, 0}) {
    return live().registry->make(detail::type_hash<Proxy>(), shape, packed.first, packed.second);
  }
  template <class H>
  H keep(H handle) {
    state& s = live();
    if (s.registry->is_shut_down()) detail::throw_manager_shut_down();
    std::lock_guard guard(s.mutex);
    s.kept.push_back(std::make_shared<const H>(handle));
    return handle;
  }

  std::unique_ptr<state> state_;
};

}  // namespace multiprocessing

// Last, so that it sees the classes above: makes each proxy Transferable.
#include "detail/manager_transfer.hpp"
