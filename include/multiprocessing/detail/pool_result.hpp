#pragma once
// The shared states behind Pool's AsyncResult: one call (apply_state) or a
// whole map (map_state), each completed once, with Python's callbacks run
// before the result becomes ready (ApplyResult._set).

#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <new>
#include <span>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../exceptions.hpp"
#include "archive.hpp"
#include "deadline.hpp"
#include "exception_transfer.hpp"
#include "pool_error.hpp"
#include "pool_job.hpp"
#include "pool_memory.hpp"

namespace multiprocessing::detail {

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct value_callback {
  using type = std::function<void(const T&)>;
};
template <>
struct value_callback<void> {
  using type = std::function<void()>;
};
template <class T>
using value_callback_t = typename value_callback<T>::type;
using error_callback_fn = std::function<void(std::exception_ptr)>;

/// A callback that threw has no caller to go to: report it as Python's
/// threading excepthook does, and go on.
inline void report_callback_exception(const char* which) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "multiprocessing: exception in %s: %s: %s\n", which,
                 current_exception_type_name().c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "multiprocessing: exception in %s: %s\n", which,
                 current_exception_type_name().c_str());
  }
}

/// A value or an exception that arrives once; waitable from any thread.
/// Kept small: a stream of apply_async keeps one per call alive, and every
/// fresh page of them costs a page fault. Callbacks and the exception live
/// out of line, made only when there are some.
template <class T>
class result_state : public job_sink {
 public:
  /// rebuild_errors: keep the exception as bytes (process pools; pool_error.hpp).
  explicit result_state(bool rebuild_errors = false) : rebuild_(rebuild_errors) {}

  void set_callbacks(value_callback_t<T> on_value, error_callback_fn on_error) {
    if (!on_value && !on_error) return;
    cbs_ = std::make_unique<callbacks>(callbacks{std::move(on_value), std::move(on_error)});
  }

  /// Stores the value, runs the callback, then wakes waiters. Later calls are ignored.
  void complete_value(stored_t<T> v) noexcept {
    const bool call = cbs_ && cbs_->on_value;
    {
      std::lock_guard g(m_);
      if (completing_) return;
      completing_ = true;
      value_.emplace(std::move(v));
      if (!call) ready_ = true;  // no callback to run first: ready in the same step
    }
    if (!call) {
      cv_.notify_all();
      return;
    }
    try {
      if constexpr (std::is_void_v<T>)
        cbs_->on_value();
      else
        cbs_->on_value(*value_);
    } catch (...) {
      report_callback_exception("a pool callback");
    }
    mark_ready();
  }
  void complete_error(std::exception_ptr e) noexcept {
    {
      std::lock_guard g(m_);
      if (completing_) return;
      completing_ = true;
      try {
        error_ = std::make_unique<error_holder>(rebuild_);
        error_->set(e);
      } catch (...) {  // out of memory: keep the original, if even that can be had
        try {
          error_ = std::make_unique<error_holder>(false);
          error_->set(e);
        } catch (...) {
          error_.reset();
        }
      }
    }
    if (cbs_ && cbs_->on_error) {
      try {
        cbs_->on_error(e);
      } catch (...) {
        report_callback_exception("a pool error callback");
      }
    }
    mark_ready();
  }

  void fail(std::size_t, std::exception_ptr e) noexcept override { complete_error(e); }

  void wait() const {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return ready_; });
  }
  bool wait_until(const deadline& dl) const {
    std::unique_lock l(m_);
    if (dl.is_never()) {
      cv_.wait(l, [&] { return ready_; });
      return true;
    }
    return cv_.wait_until(l, dl.time(), [&] { return ready_; });
  }
  bool ready() const {
    std::lock_guard g(m_);
    return ready_;
  }
  bool successful() const {
    std::lock_guard g(m_);
    if (!ready_) throw ValueError("the result is not ready");
    return value_.has_value();
  }
  /// The value (a copy: several handles may read it); rethrows the task's exception.
  T get() const {
    wait();
    if (!value_) rethrow();
    if constexpr (!std::is_void_v<T>) return *value_;
  }
  /// The value, moved out: for the only reader (map() on its own result).
  T take() {
    wait();
    if (!value_) rethrow();
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

 private:
  struct callbacks {
    value_callback_t<T> on_value;
    error_callback_fn on_error;
  };

  [[noreturn]] void rethrow() const {
    std::exception_ptr e = error_ ? error_->get() : nullptr;
    if (!e) e = std::make_exception_ptr(std::bad_alloc());  // the error could not be kept
    std::rethrow_exception(e);
  }

  void mark_ready() noexcept {
    {
      std::lock_guard g(m_);
      ready_ = true;
    }
    cv_.notify_all();
  }

  mutable std::mutex m_;
  mutable std::condition_variable cv_;
  bool rebuild_;
  bool completing_ = false;
  bool ready_ = false;
  std::optional<stored_t<T>> value_;     // set: succeeded
  std::unique_ptr<error_holder> error_;  // failed (value_ empty)
  std::unique_ptr<callbacks> cbs_;
};

/// apply_async: one call's result, with the call's job inside it: one
/// allocation per call for both (job_ptr()).
template <class R>
class apply_state final : public result_state<R> {
 public:
  using result_state<R>::result_state;
  void done_bytes(std::size_t, reader& r) override {
    if constexpr (std::is_void_v<R>) {
      r.expect_end();
      this->complete_value(std::monostate{});
    } else {
      R v = detail::load<R>(r);
      r.expect_end();
      this->complete_value(std::move(v));
    }
  }
  /// The embedded job, holding self alive; frame: the call's bytes.
  static process_job_ptr job_ptr(const std::shared_ptr<apply_state>& self,
                                 std::span<const std::byte> frame) {
    self->job_.frame.assign(frame);
    self->job_.sink = self.get();
    self->job_.index = 0;
    return process_job_ptr(self, &self->job_);
  }

 private:
  process_job job_;
};

/// Where the results of map items go before the whole list is ready: the
/// items themselves when R is default-constructible, else optionals.
template <class R>
using map_slot_t = std::conditional_t<std::is_default_constructible_v<R>, R, std::optional<R>>;

template <class R>
using map_value_t = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;

/// map_async: chunk results placed by position; the first failed chunk fails
/// the whole map at once (Python's MapResult).
template <class R>
class map_state final : public result_state<map_value_t<R>> {
 public:
  map_state(std::size_t items, std::size_t chunksize, bool rebuild_errors = false)
      : result_state<map_value_t<R>>(rebuild_errors),
        chunksize_(chunksize == 0 ? 1 : chunksize),
        chunks_left_(chunksize == 0 ? 0 : (items + chunksize - 1) / chunksize), items_(items) {
    if constexpr (!std::is_void_v<R>) {
      slots_.reserve(items);
      pool_prefault(slots_.data(), items * sizeof(map_slot_t<R>));
      slots_.resize(items);
    }
  }

  std::size_t chunks() const noexcept { return (items_ + chunksize_ - 1) / chunksize_; }
  std::size_t chunk_begin(std::size_t c) const noexcept { return c * chunksize_; }
  std::size_t chunk_size(std::size_t c) const noexcept {
    return std::min(chunksize_, items_ - c * chunksize_);
  }

  /// Completes an empty map (no chunk will ever arrive).
  void complete_if_empty() {
    if (items_ == 0) finish();
  }

  void done_bytes(std::size_t c, reader& r) override {
    const std::size_t first = chunk_begin(c), n = chunk_size(c);
    {
      std::lock_guard g(m_);
      if constexpr (std::is_void_v<R>) {
      } else if constexpr (kind_of<R>() == kind::bytes && std::is_same_v<map_slot_t<R>, R>) {
        r.read_bytes(slots_.data() + first, n * sizeof(R));  // the chunk's items in one copy
      } else {
        for (std::size_t i = 0; i < n; ++i) slots_[first + i] = detail::load<R>(r);
      }
    }
    r.expect_end();
    chunk_done();
  }
  /// Thread pools hand over the values directly.
  template <class V>
  void done_values(std::size_t c, V&& values) {
    if constexpr (!std::is_void_v<R>) {
      std::lock_guard g(m_);
      const std::size_t first = chunk_begin(c);
      for (std::size_t i = 0; i < values.size(); ++i) slots_[first + i] = std::move(values[i]);
    }
    chunk_done();
  }

 private:
  void chunk_done() {
    bool last;
    {
      std::lock_guard g(m_);
      last = --chunks_left_ == 0;
    }
    if (last) finish();
  }
  void finish() {
    if constexpr (std::is_void_v<R>) {
      this->complete_value(std::monostate{});
    } else if constexpr (std::is_same_v<map_slot_t<R>, R>) {
      this->complete_value(std::move(slots_));
    } else {
      std::vector<R> out;
      out.reserve(slots_.size());
      for (auto& s : slots_) out.push_back(std::move(*s));
      this->complete_value(std::move(out));
    }
  }

  std::mutex m_;
  std::size_t chunksize_;
  std::size_t chunks_left_;
  std::size_t items_;
  std::conditional_t<std::is_void_v<R>, std::monostate, std::vector<map_slot_t<R>>> slots_;
};

}  // namespace multiprocessing::detail
