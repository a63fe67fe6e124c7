#pragma once
// STUB (being replaced): the resource tracker records every shared-memory
// segment this program tree creates and unlinks the ones still there once
// every process of the tree is gone (CPython's resource_tracker.py).

#include <string_view>

namespace multiprocessing::detail {

class resource_tracker {
 public:
  static resource_tracker& instance() {
    static resource_tracker t;
    return t;
  }
  /// Records a name that must not outlive the program tree. Never throws.
  void register_segment(std::string_view) noexcept {}
  /// The name was unlinked normally; forget it. Never throws.
  void unregister_segment(std::string_view) noexcept {}
};

}  // namespace multiprocessing::detail
