#pragma once
// The shared state behind mp::Future (concurrent.futures' Future): pending,
// running once a worker holds it, then finished or cancelled. Done callbacks
// run in the thread that completes it (the pool's result thread), or at once
// when added to a finished future, as in Python.

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "../exceptions.hpp"
#include "archive.hpp"
#include "deadline.hpp"
#include "pool_error.hpp"
#include "pool_job.hpp"
#include "pool_result.hpp"

namespace multiprocessing::detail {

enum class future_status { pending, running, cancelled, finished };

/// What every future's state offers to as_completed and wait, whatever its R.
class future_base : public job_sink {
 public:
  /// rebuild_errors: keep the exception as bytes (process pools; pool_error.hpp).
  explicit future_base(bool rebuild_errors = false) : error_(rebuild_errors) {}

  /// f runs once the future is done (at once, here, if it already is).
  void on_done(std::function<void()> f) {
    {
      std::lock_guard g(m_);
      if (!is_done()) {
        waiters_.push_back(std::move(f));
        return;
      }
    }
    f();
  }
  future_status status() const {
    std::lock_guard g(m_);
    return status_;
  }
  bool done() const {
    std::lock_guard g(m_);
    return is_done();
  }
  /// Finished with an exception (not cancelled).
  bool failed() const {
    std::lock_guard g(m_);
    return status_ == future_status::finished && static_cast<bool>(error_);
  }

  bool start(std::size_t) noexcept override {
    std::lock_guard g(m_);
    if (status_ != future_status::pending) return false;
    status_ = future_status::running;
    return true;
  }
  void fail(std::size_t, std::exception_ptr e) noexcept override { finish(e); }
  void cancel(std::size_t, std::exception_ptr) noexcept override { (void)cancel(); }

  /// Python's cancel(): false once running or finished.
  bool cancel() noexcept {
    {
      std::lock_guard g(m_);
      if (status_ == future_status::cancelled) return true;
      if (status_ != future_status::pending) return false;
      status_ = future_status::cancelled;
    }
    completed();
    return true;
  }

  /// Blocks until done or the deadline; false on timeout.
  bool wait_until(const deadline& dl) const {
    std::unique_lock l(m_);
    auto ready = [&] { return is_done(); };
    if (dl.is_never()) {
      cv_.wait(l, ready);
      return true;
    }
    return cv_.wait_until(l, dl.time(), ready);
  }

  /// The exception, nullptr on success; CancelledError if cancelled. Waits.
  std::exception_ptr exception(const deadline& dl) const {
    if (!wait_until(dl)) throw TimeoutError();
    std::lock_guard g(m_);
    if (status_ == future_status::cancelled) throw CancelledError();
    return error_.get();
  }

 protected:
  bool is_done() const { return status_ == future_status::cancelled || status_ == future_status::finished; }

  // Marks the state finished (with e, or with the value already stored).
  void finish(std::exception_ptr e) noexcept {
    {
      std::lock_guard g(m_);
      if (is_done()) return;
      try {
        error_.set(e);
      } catch (...) {  // out of memory: keep the original
        error_ = error_holder(false);
        error_.set(e);
      }
      status_ = future_status::finished;
    }
    completed();
  }

  mutable std::mutex m_;
  mutable std::condition_variable cv_;
  future_status status_ = future_status::pending;
  error_holder error_;

 private:
  void completed() noexcept {
    std::vector<std::function<void()>> ws;
    {
      std::lock_guard g(m_);
      ws.swap(waiters_);
    }
    cv_.notify_all();
    for (auto& w : ws) {
      try {
        w();
      } catch (...) {
        report_callback_exception("a future's done callback");
      }
    }
  }

  std::vector<std::function<void()>> waiters_;
};

template <class R>
class future_state final : public future_base {
 public:
  using future_base::future_base;
  void set_value(stored_t<R> v) noexcept {
    {
      std::lock_guard g(m_);
      if (is_done()) return;
      value_.emplace(std::move(v));
    }
    finish(nullptr);
  }
  void done_bytes(std::size_t, reader& r) override {
    if constexpr (std::is_void_v<R>) {
      r.expect_end();
      set_value(std::monostate{});
    } else {
      R v = detail::load<R>(r);
      r.expect_end();
      set_value(std::move(v));
    }
  }
  /// The value (a copy); rethrows the task's exception; CancelledError; TimeoutError.
  R result(const deadline& dl) const {
    if (auto e = exception(dl)) std::rethrow_exception(e);
    if constexpr (!std::is_void_v<R>) {
      std::lock_guard g(m_);
      return *value_;
    }
  }

 private:
  std::optional<stored_t<R>> value_;
};

}  // namespace multiprocessing::detail
