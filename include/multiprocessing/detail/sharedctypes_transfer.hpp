#pragma once
// transfer_traits for Value, Array, RawValue and RawArray: each travels as
// its segment's name (and its lock's), and loads by attaching it, so the
// loaded handle refers to the same memory.

#include <string>

#include "../reduction.hpp"
#include "../sharedctypes.hpp"
#include "arena.hpp"
#include "handle_access.hpp"
#include "shared_block.hpp"
#include "sync_transfer.hpp"

namespace multiprocessing {

template <class T>
struct transfer_traits<RawValue<T>> {
  static void save(detail::writer& w, const RawValue<T>& v) {
    detail::save(w, detail::handle_access::ref(v).name());
  }
  static RawValue<T> load(detail::reader& r) {
    return detail::handle_access::make<RawValue<T>>(
        detail::shared_ref<detail::value_cell<T>>::attach(detail::load<std::string>(r)));
  }
};

template <class T>
struct transfer_traits<Value<T>> {
  static void save(detail::writer& w, const Value<T>& v) {
    detail::save(w, detail::handle_access::ref(v).name());
    detail::save(w, v.get_lock());
  }
  static Value<T> load(detail::reader& r) {
    auto ref = detail::shared_ref<detail::value_cell<T>>::attach(detail::load<std::string>(r));
    return detail::handle_access::make<Value<T>>(std::move(ref), detail::load<RLock>(r));
  }
};

template <class T>
struct transfer_traits<RawArray<T>> {
  static void save(detail::writer& w, const RawArray<T>& a) {
    detail::save(w, detail::handle_access::block(a).name());
  }
  static RawArray<T> load(detail::reader& r) {
    return detail::handle_access::make<RawArray<T>>(
        detail::array_block<T>::attach(detail::load<std::string>(r)));
  }
};

template <class T>
struct transfer_traits<Array<T>> {
  static void save(detail::writer& w, const Array<T>& a) {
    detail::save(w, detail::handle_access::block(a).name());
    detail::save(w, a.get_lock());
  }
  static Array<T> load(detail::reader& r) {
    auto block = detail::array_block<T>::attach(detail::load<std::string>(r));
    return detail::handle_access::make<Array<T>>(std::move(block), detail::load<RLock>(r));
  }
};

}  // namespace multiprocessing
