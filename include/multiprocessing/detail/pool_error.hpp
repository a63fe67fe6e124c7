#pragma once
// A task's exception as a result state keeps it. For process pools it is
// kept as bytes and rebuilt for every reader: each get() throws an object of
// its own, so no exception object is shared between the pool's result thread
// and the caller. (A shared one is freed by whichever thread drops it last,
// through reference counts inside libstdc++ that ThreadSanitizer cannot
// see: a false "data race" on every e.what() read.) Thread pools keep the
// very exception thrown, as Python's ThreadPool does.

#include <cstddef>
#include <exception>
#include <vector>

#include "archive.hpp"
#include "exception_transfer.hpp"

namespace multiprocessing::detail {

class error_holder {
 public:
  explicit error_holder(bool rebuild = false) noexcept : rebuild_(rebuild) {}

  void set(std::exception_ptr e) {
    set_ = e != nullptr;
    if (!rebuild_) {
      ptr_ = std::move(e);
      return;
    }
    bytes_.clear();
    writer w(bytes_);
    save_exception(w, e);
  }
  explicit operator bool() const noexcept { return set_; }
  /// The exception (a new object each call when rebuilding); nullptr if none.
  std::exception_ptr get() const {
    if (!set_) return nullptr;
    if (!rebuild_) return ptr_;
    reader r(bytes_);
    return load_exception(r);
  }

 private:
  bool rebuild_;
  bool set_ = false;
  std::exception_ptr ptr_;
  std::vector<std::byte> bytes_;
};

}  // namespace multiprocessing::detail
