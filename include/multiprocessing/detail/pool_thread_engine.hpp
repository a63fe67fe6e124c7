#pragma once
// The thread pool under ThreadPool and ThreadPoolExecutor: worker threads
// take jobs from one queue. Jobs are closures that report to their sink
// themselves; nothing is serialized.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "../exceptions.hpp"
#include "pool_job.hpp"
#include "pool_result.hpp"

namespace multiprocessing::detail {

class thread_engine {
 public:
  thread_engine(int threads, std::function<void()> init, std::optional<std::uint64_t> maxtasks)
      : init_(std::move(init)), maxtasks_(maxtasks) {
    if (threads < 1) throw ValueError("Number of processes must be at least 1");
    if (maxtasks && *maxtasks < 1)
      throw ValueError("maxtasksperchild must be a positive int or None");
    std::lock_guard g(m_);
    try {
      for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { worker_loop(); });
    } catch (...) {
      state_ = state::terminate;
      cv_.notify_all();
      throw;
    }
  }
  thread_engine(const thread_engine&) = delete;
  thread_engine& operator=(const thread_engine&) = delete;
  ~thread_engine() {
    try {
      terminate(std::make_exception_ptr(ProcessError("the pool was terminated")));
      join_threads();
    } catch (...) {  // a destructor never throws
    }
  }

  void submit(thread_job job) {
    clear_graveyard();
    {
      std::lock_guard g(m_);
      check_accepting();
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void submit(std::vector<thread_job> jobs) {
    clear_graveyard();
    {
      std::lock_guard g(m_);
      check_accepting();
      for (auto& j : jobs) queue_.push_back(std::move(j));
    }
    cv_.notify_all();
  }

  void close() {
    {
      std::lock_guard g(m_);
      if (state_ == state::run) state_ = state::close;
    }
    cv_.notify_all();
  }
  /// Queued jobs fail with `why`; running ones finish (a thread cannot be stopped).
  void terminate(std::exception_ptr why) {
    std::deque<thread_job> q;
    {
      std::lock_guard g(m_);
      state_ = state::terminate;
      q.swap(queue_);
    }
    cv_.notify_all();
    for (auto& j : q) j.sink->cancel(j.index, why);
  }
  void cancel_queued(std::exception_ptr why) {
    std::deque<thread_job> q;
    {
      std::lock_guard g(m_);
      q.swap(queue_);
    }
    for (auto& j : q) j.sink->cancel(j.index, why);
  }
  void join() {
    {
      std::lock_guard g(m_);
      if (state_ == state::run) throw ValueError("Pool is still running");
    }
    join_threads();
  }
  bool running() const {
    std::lock_guard g(m_);
    return state_ == state::run;
  }

 private:
  enum class state { run, close, terminate };

  void check_accepting() const {
    if (state_ != state::run) throw ValueError("Pool not running");
  }

  void worker_loop() {
    if (init_) {
      try {
        init_();
      } catch (...) {
        report_callback_exception("a thread pool initializer");
      }
    }
    std::uint64_t done = 0;
    std::unique_lock l(m_);
    for (;;) {
      cv_.wait(l, [&] { return !queue_.empty() || state_ != state::run; });
      if (state_ == state::terminate || (queue_.empty() && state_ == state::close)) break;
      thread_job j = std::move(queue_.front());
      queue_.pop_front();
      if (!j.sink->start(j.index)) continue;
      l.unlock();
      j.run();  // reports to its sink; never throws
      l.lock();
      graveyard_.push_back(std::move(j));
      if (maxtasks_ && ++done >= *maxtasks_) {
        // Python's maxtasksperchild: this worker retires, a fresh one takes its place.
        if (state_ != state::terminate) threads_.emplace_back([this] { worker_loop(); });
        break;
      }
    }
    cv_.notify_all();
  }

  void join_threads() {
    std::lock_guard jg(join_m_);
    for (;;) {
      std::vector<std::thread> ts;
      {
        std::lock_guard g(m_);
        ts.swap(threads_);
      }
      if (ts.empty()) break;
      for (auto& t : ts)
        if (t.joinable()) t.join();
    }
    clear_graveyard();
  }

  // Finished jobs hold the last references to result states, and so to the
  // exceptions in them. They are dropped here, on a caller's thread, rather
  // than on the worker thread: a caller that read an exception's what() and
  // then let the worker free it would be a "race" ThreadSanitizer reports
  // (the reference count lives in uninstrumented libstdc++; see pool_error.hpp).
  void clear_graveyard() noexcept {
    std::vector<thread_job> g;
    {
      std::lock_guard l(m_);
      g.swap(graveyard_);
    }
  }

  std::function<void()> init_;
  std::optional<std::uint64_t> maxtasks_;
  mutable std::mutex m_;
  std::mutex join_m_;
  std::condition_variable cv_;
  std::deque<thread_job> queue_;
  std::vector<thread_job> graveyard_;
  std::vector<std::thread> threads_;
  state state_ = state::run;
};

}  // namespace multiprocessing::detail
