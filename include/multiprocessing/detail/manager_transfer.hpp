#pragma once
// transfer_traits for the manager proxies: a proxy travels as the name of its
// container's anchor segment and loads by attaching it, so the loaded proxy
// refers to the same container (under every start method). Loading as
// another proxy type is refused (the anchor records the type).

#include <string>

#include "../managers.hpp"
#include "../reduction.hpp"
#include "handle_access.hpp"
#include "manager_container.hpp"
#include "type_name.hpp"

namespace multiprocessing {
namespace detail {

template <class Proxy>
struct proxy_transfer {
  static void save(writer& w, const Proxy& p) { detail::save(w, p.name()); }
  static Proxy load(reader& r) {
    return handle_access::make<Proxy>(
        container::attach(detail::load<std::string>(r), type_hash<Proxy>()));
  }
};

}  // namespace detail

template <class K, class V>
struct transfer_traits<DictProxy<K, V>> : detail::proxy_transfer<DictProxy<K, V>> {};
template <class T>
struct transfer_traits<ListProxy<T>> : detail::proxy_transfer<ListProxy<T>> {};
template <class T>
struct transfer_traits<SetProxy<T>> : detail::proxy_transfer<SetProxy<T>> {};
template <class T>
struct transfer_traits<ValueProxy<T>> : detail::proxy_transfer<ValueProxy<T>> {};
template <class T>
struct transfer_traits<ArrayProxy<T>> : detail::proxy_transfer<ArrayProxy<T>> {};
template <>
struct transfer_traits<NamespaceProxy> : detail::proxy_transfer<NamespaceProxy> {};

}  // namespace multiprocessing
