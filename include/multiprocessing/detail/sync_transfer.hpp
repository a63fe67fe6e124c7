#pragma once
// transfer_traits for the synchronization handles: a handle travels as the
// name of its segment (a Condition: its lock's kind and name, then its
// own), and loads by attaching that segment, so the loaded handle refers to
// the same object (beyond Python, which only lets children inherit locks).

#include <cstdint>
#include <string>
#include <variant>

#include "../reduction.hpp"
#include "../synchronize.hpp"
#include "arena.hpp"
#include "handle_access.hpp"

namespace multiprocessing {
namespace detail {

template <class State>
struct segment_name_transfer {
  template <class H>
  static void save_ref(writer& w, const H& h) {
    detail::save(w, handle_access::ref(h).name());
  }
  static shared_ref<State> load_ref(reader& r) {
    return shared_ref<State>::attach(detail::load<std::string>(r));
  }
};

template <class H, class State>
struct handle_transfer {
  static void save(writer& w, const H& h) { segment_name_transfer<State>::save_ref(w, h); }
  static H load(reader& r) {
    return handle_access::make<H>(segment_name_transfer<State>::load_ref(r));
  }
};

}  // namespace detail

template <>
struct transfer_traits<Lock> : detail::handle_transfer<Lock, detail::lock_state> {};
template <>
struct transfer_traits<RLock> : detail::handle_transfer<RLock, detail::rlock_state> {};
template <>
struct transfer_traits<Semaphore> : detail::handle_transfer<Semaphore, detail::semaphore_state> {};
template <>
struct transfer_traits<BoundedSemaphore>
    : detail::handle_transfer<BoundedSemaphore, detail::semaphore_state> {};
template <>
struct transfer_traits<Event> : detail::handle_transfer<Event, detail::event_state> {};
template <>
struct transfer_traits<Barrier> : detail::handle_transfer<Barrier, detail::barrier_state> {};

template <>
struct transfer_traits<Condition> {
  static void save(detail::writer& w, const Condition& c) {
    const auto& lock = detail::handle_access::lock(c);
    detail::save(w, static_cast<std::uint8_t>(lock.index()));
    std::visit([&](const auto& l) { detail::save(w, l); }, lock);
    detail::save(w, detail::handle_access::ref(c).name());
  }
  static Condition load(detail::reader& r) {
    const auto kind = detail::load<std::uint8_t>(r);
    std::variant<RLock, Lock> lock = kind == 0 ? std::variant<RLock, Lock>(detail::load<RLock>(r))
                                     : kind == 1
                                         ? std::variant<RLock, Lock>(detail::load<Lock>(r))
                                         : throw UnpicklingError("a Condition's lock must be a Lock or an RLock");
    return detail::handle_access::make<Condition>(
        std::move(lock), detail::segment_name_transfer<detail::condition_state>::load_ref(r));
  }
};

}  // namespace multiprocessing
