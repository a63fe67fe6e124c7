#pragma once
// transfer_traits for the queue handles: a queue travels as the name of its
// segment and loads by attaching it (checking that it is a queue of the same
// kind and item type), so the loaded handle refers to the same queue.

#include <string>

#include "../queues.hpp"
#include "../reduction.hpp"
#include "handle_access.hpp"
#include "queue_layout.hpp"
#include "queue_registry.hpp"
#include "type_name.hpp"

namespace multiprocessing {
namespace detail {

template <class H, class T, queue_kind Kind>
struct queue_handle_transfer {
  static void save(writer& w, const H& h) { detail::save(w, handle_access::ref(h)->name()); }
  static H load(reader& r) {
    const auto name = detail::load<std::string>(r);
    return handle_access::make<H>(queue_registry::get().attach(name, Kind, type_hash<T>()));
  }
};

}  // namespace detail

template <class T>
struct transfer_traits<Queue<T>> : detail::queue_handle_transfer<Queue<T>, T, detail::queue_kind::queue> {};
template <class T>
struct transfer_traits<JoinableQueue<T>>
    : detail::queue_handle_transfer<JoinableQueue<T>, T, detail::queue_kind::joinable> {};
template <class T>
struct transfer_traits<SimpleQueue<T>>
    : detail::queue_handle_transfer<SimpleQueue<T>, T, detail::queue_kind::simple> {};

}  // namespace multiprocessing
