#pragma once
// How library code outside a handle class (transfer_traits, Condition)
// reaches the shared object behind a handle, and rebuilds a handle from an
// attached one, without making either public API.

#include <utility>

namespace multiprocessing::detail {

/// Selects a handle's "wrap this attached object" constructor.
struct attach_tag {
  explicit attach_tag() = default;
};

struct handle_access {
  template <class H>
  static const auto& ref(const H& h) noexcept {
    return h.ref_;
  }
  template <class H>
  static const auto& block(const H& h) noexcept {
    return h.block_;
  }
  template <class H>
  static const auto& lock(const H& h) noexcept {
    return h.lock_;
  }
  template <class H, class... A>
  static H make(A&&... a) {
    return H(attach_tag{}, std::forward<A>(a)...);
  }
};

}  // namespace multiprocessing::detail
