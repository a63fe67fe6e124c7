#pragma once
/// Python's concurrent.futures for processes and threads:
/// mp::ProcessPoolExecutor, mp::ThreadPoolExecutor, mp::Future,
/// mp::as_completed and mp::wait.
///
/// As in Python, a worker process that dies breaks a ProcessPoolExecutor:
/// the future it ran and every pending one fail with BrokenProcessPool, and
/// submit() throws BrokenProcessPool from then on.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/deadline.hpp"
#include "detail/future_state.hpp"
#include "detail/pool_args.hpp"
#include "detail/pool_engine.hpp"
#include "detail/pool_entries.hpp"
#include "detail/pool_imap.hpp"
#include "detail/pool_thread_engine.hpp"
#include "exceptions.hpp"
#include "process.hpp"

namespace multiprocessing {

/// Executor options (Python's max_workers=, max_tasks_per_child=).
/// (The `context` member arrives with context.hpp.)
struct ExecutorOptions {
  std::optional<int> max_workers;
  std::optional<int> max_tasks_per_child;
};

/// The eventual result of a submitted call. A copyable handle, like
/// std::shared_future: every copy sees the same state.
template <class R>
class Future {
 public:
  using value_type = R;

  Future() = default;
  explicit Future(std::shared_ptr<detail::future_state<R>> s) : s_(std::move(s)) {}

  /// Blocks until done; the value, or rethrows the call's exception;
  /// CancelledError if cancelled.
  R result() const { return state().result(detail::deadline::never()); }
  /// As result(), but TimeoutError if not done within timeout.
  template <class Rep, class Period>
  R result(std::chrono::duration<Rep, Period> timeout) const {
    return state().result(detail::deadline::after(timeout));
  }
  /// Blocks until done; the call's exception or nullptr; CancelledError if cancelled.
  std::exception_ptr exception() const { return state().exception(detail::deadline::never()); }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return state().exception(detail::deadline::after(timeout));
  }
  /// Finished or cancelled.
  bool done() const { return state().done(); }
  /// A worker holds it and it is not done.
  bool running() const { return state().status() == detail::future_status::running; }
  bool cancelled() const { return state().status() == detail::future_status::cancelled; }
  /// Cancels a call that no worker holds yet; false if running or finished.
  bool cancel() { return state().cancel(); }
  /// fn(future) once done: on the thread that completes it, or here at once
  /// if it is done already. Exceptions from fn are reported and ignored.
  void add_done_callback(std::function<void(Future<R>&)> fn) {
    auto s = s_;
    state().on_done([s, fn = std::move(fn)] {
      Future<R> f(s);
      fn(f);
    });
  }

  /// The shared state, for as_completed and wait.
  detail::future_base& base() const { return state(); }
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.s_ == b.s_; }

 private:
  detail::future_state<R>& state() const {
    if (!s_) throw ValueError("Future has no state");
    return *s_;
  }
  std::shared_ptr<detail::future_state<R>> s_;
};

/// Python's return_when= of wait().
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// wait()'s result: Python's (done, not_done) named tuple.
template <class R>
struct WaitResult {
  std::vector<Future<R>> done;
  std::vector<Future<R>> not_done;
};

namespace detail {

/// Counts completions of the futures it watches; wakes whoever waits.
struct completion_signal {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::size_t> finished;  // indexes, in completion order

  void push(std::size_t i) {
    {
      std::lock_guard g(m);
      finished.push_back(i);
    }
    cv.notify_all();
  }
};

template <class Range>
using future_of = std::remove_cvref_t<std::ranges::range_value_t<Range>>;

template <class F>
std::shared_ptr<completion_signal> watch(const std::vector<F>& fs) {
  auto sig = std::make_shared<completion_signal>();
  for (std::size_t i = 0; i < fs.size(); ++i) fs[i].base().on_done([sig, i] { sig->push(i); });
  return sig;
}

template <class R>
WaitResult<R> wait_impl(std::vector<Future<R>> fs, const deadline& dl, ReturnWhen when) {
  auto sig = watch(fs);
  auto satisfied = [&] {
    std::size_t done = 0;
    bool failed = false;
    for (auto& f : fs) {
      if (f.base().done()) ++done;
      if (f.base().failed()) failed = true;
    }
    if (done == fs.size()) return true;
    if (when == ReturnWhen::FIRST_COMPLETED) return done > 0;
    if (when == ReturnWhen::FIRST_EXCEPTION) return failed;
    return false;
  };
  {
    std::unique_lock l(sig->m);
    for (;;) {
      l.unlock();
      const bool ok = satisfied();
      l.lock();
      if (ok) break;
      if (!sig->finished.empty()) {
        sig->finished.clear();
        continue;
      }
      if (dl.is_never())
        sig->cv.wait(l);
      else if (sig->cv.wait_until(l, dl.time()) == std::cv_status::timeout && sig->finished.empty())
        break;
    }
  }
  WaitResult<R> out;
  for (auto& f : fs) (f.base().done() ? out.done : out.not_done).push_back(f);
  return out;
}

}  // namespace detail

/// Futures in the order they finish (Python's as_completed): a single-pass
/// range; the iterator throws TimeoutError when the deadline passes first.
template <class R>
class AsCompleted {
 public:
  AsCompleted(std::vector<Future<R>> fs, detail::deadline dl)
      : fs_(std::move(fs)), dl_(dl), sig_(detail::watch(fs_)) {}

  /// The next finished future; nullopt after the last. TimeoutError on timeout.
  std::optional<Future<R>> next() {
    if (yielded_ == fs_.size()) return std::nullopt;
    std::unique_lock l(sig_->m);
    auto have = [&] { return !sig_->finished.empty(); };
    if (dl_.is_never())
      sig_->cv.wait(l, have);
    else if (!sig_->cv.wait_until(l, dl_.time(), have))
      throw TimeoutError(fmt::format("{} (of {}) futures unfinished", fs_.size() - yielded_,
                                     fs_.size()));
    std::size_t i = sig_->finished.front();
    sig_->finished.pop_front();
    ++yielded_;
    return fs_[i];
  }

  class iterator {
   public:
    using value_type = Future<R>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(AsCompleted* owner) : owner_(owner) { cur_ = owner_->next(); }
    Future<R>& operator*() const { return *cur_; }
    iterator& operator++() {
      cur_ = owner_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !cur_; }

   private:
    AsCompleted* owner_ = nullptr;
    mutable std::optional<Future<R>> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::vector<Future<R>> fs_;
  detail::deadline dl_;
  std::shared_ptr<detail::completion_signal> sig_;
  std::size_t yielded_ = 0;
};

/// The futures of fs as they finish (finished ones first).
template <class Range>
auto as_completed(const Range& fs) {
  using F = detail::future_of<Range>;
  return AsCompleted<typename F::value_type>(std::vector<F>(std::ranges::begin(fs), std::ranges::end(fs)),
                                             detail::deadline::never());
}
/// As as_completed(fs); iterating past `timeout` from now throws TimeoutError.
template <class Range, class Rep, class Period>
auto as_completed(const Range& fs, std::chrono::duration<Rep, Period> timeout) {
  using F = detail::future_of<Range>;
  return AsCompleted<typename F::value_type>(std::vector<F>(std::ranges::begin(fs), std::ranges::end(fs)),
                                             detail::deadline::after(timeout));
}

/// Waits until return_when holds for fs (Python's concurrent.futures.wait);
/// returns {done, not_done}.
template <class Range>
auto wait(const Range& fs, ReturnWhen return_when = ALL_COMPLETED) {
  using F = detail::future_of<Range>;
  return detail::wait_impl<typename F::value_type>(
      std::vector<F>(std::ranges::begin(fs), std::ranges::end(fs)), detail::deadline::never(),
      return_when);
}
/// As wait(fs, return_when), giving up after timeout (then some are in not_done).
template <class Range, class Rep, class Period>
auto wait(const Range& fs, std::chrono::duration<Rep, Period> timeout,
          ReturnWhen return_when = ALL_COMPLETED) {
  using F = detail::future_of<Range>;
  return detail::wait_impl<typename F::value_type>(
      std::vector<F>(std::ranges::begin(fs), std::ranges::end(fs)),
      detail::deadline::after(timeout), return_when);
}
/// Python's wait(fs, timeout=None, return_when): an empty optional waits as
/// long as it takes.
template <class Range>
auto wait(const Range& fs, std::nullopt_t, ReturnWhen return_when = ALL_COMPLETED) {
  return wait(fs, return_when);
}
template <class Range, class Rep, class Period>
auto wait(const Range& fs, std::optional<std::chrono::duration<Rep, Period>> timeout,
          ReturnWhen return_when = ALL_COMPLETED) {
  if (!timeout) return wait(fs, return_when);
  return wait(fs, *timeout, return_when);
}

namespace detail {

/// What both executors share; Threads picks the engine.
template <bool Threads>
class basic_executor {
 public:
  basic_executor(basic_executor&&) noexcept = default;
  basic_executor& operator=(basic_executor&& o) noexcept {
    if (this != &o) {
      finish();
      engine_ = std::move(o.engine_);
      shutdown_ = o.shutdown_;
    }
    return *this;
  }
  /// shutdown(true): waits for every submitted call.
  ~basic_executor() { finish(); }

  /// Schedules f(args...). ProcessError after shutdown(); BrokenProcessPool
  /// once a worker died.
  template <class F, class... Args>
  auto submit(F f, Args&&... args) {
    using R = std::remove_cvref_t<std::invoke_result_t<F, std::decay_t<Args>...>>;
    check_open();
    auto st = std::make_shared<future_state<R>>(!Threads);
    if constexpr (Threads) {
      auto call = std::make_shared<std::tuple<F, std::decay_t<Args>...>>(
          std::move(f), std::forward<Args>(args)...);
      engine().submit(thread_job{[st, call]() noexcept {
                                   try {
                                     auto run = [](auto&& fn, auto&&... a) -> decltype(auto) {
                                       return std::invoke(std::move(fn), std::move(a)...);
                                     };
                                     if constexpr (std::is_void_v<R>) {
                                       std::apply(run, std::move(*call));
                                       st->set_value(std::monostate{});
                                     } else {
                                       st->set_value(std::apply(run, std::move(*call)));
                                     }
                                   } catch (...) {
                                     st->fail(0, std::current_exception());
                                   }
                                 },
                                 st, 0});
    } else {
      job_scratch scratch;
      write_apply_job(scratch.get(), f, static_cast<const std::decay_t<Args>&>(args)...);
      engine().submit(make_process_job(st, std::span<const std::byte>(scratch.get()), 0));
    }
    return Future<R>(st);
  }

  /// [f(x) for x in xs], results in input order; chunksize items travel
  /// together. Rethrows the first exception in input order.
  template <class F, class Range>
  auto map(F f, const Range& xs, std::size_t chunksize = 1) {
    if (chunksize < 1) throw ValueError("chunksize must be >= 1.");
    check_open();
    using Arg = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
    using R = std::remove_cvref_t<std::invoke_result_t<F&, Arg>>;
    std::vector<Arg> items(std::ranges::begin(xs), std::ranges::end(xs));
    auto st = std::make_shared<imap_state<R>>(items.size(), chunksize, true, !Threads);
    for (std::size_t c = 0; c < st->chunks(); ++c) {
      const auto first = items.begin() + static_cast<std::ptrdiff_t>(st->chunk_begin(c));
      const std::size_t k = st->chunk_size(c);
      if constexpr (Threads) {
        auto fn = std::make_shared<F>(f);
        engine().submit(thread_job{
            [fn, st, c, part = std::vector<Arg>(first, first + static_cast<std::ptrdiff_t>(k))]() mutable noexcept {
              try {
                std::vector<stored_t<R>> out;
                for (auto& a : part) {
                  if constexpr (std::is_void_v<R>)
                    std::invoke(*fn, std::move(a));
                  else
                    out.push_back(std::invoke(*fn, std::move(a)));
                }
                st->done_values(c, std::move(out));
              } catch (...) {
                st->fail(c, std::current_exception());
              }
            },
            st, c});
      } else {
        auto frame = make_chunk_job<false, Arg>(f, first, k);
        engine().submit(make_process_job(st, std::move(frame), c));
      }
    }
    if constexpr (std::is_void_v<R>) {
      while (st->next(deadline::never())) {
      }
    } else {
      std::vector<R> out;
      out.reserve(items.size());
      while (auto v = st->next(deadline::never())) out.push_back(std::move(*v));
      return out;
    }
  }

  /// No more submissions. cancel_futures: calls no worker holds yet are
  /// cancelled. wait: blocks until every call is done and the workers are gone.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    if (!engine_) return;
    shutdown_ = true;
    if (cancel_futures) engine_->cancel_queued(std::make_exception_ptr(CancelledError()));
    engine_->close();
    if (wait) engine_->join();
  }

 protected:
  using engine_t = std::conditional_t<Threads, thread_engine, process_engine>;
  basic_executor() = default;
  void start(std::unique_ptr<engine_t> e) { engine_ = std::move(e); }
  engine_t& engine() {
    if (!engine_) throw ProcessError("cannot schedule new futures after shutdown");
    return *engine_;
  }

 private:
  void check_open() {
    if (shutdown_ || !engine_) throw ProcessError("cannot schedule new futures after shutdown");
    if constexpr (!Threads) {
      // A broken pool says so (BrokenProcessPool) through submit.
    } else {
      if (!engine_->running()) throw ProcessError("cannot schedule new futures after shutdown");
    }
  }
  void finish() noexcept {
    try {
      shutdown(true);
    } catch (...) {  // a destructor never throws
    }
    engine_.reset();
  }

  std::unique_ptr<engine_t> engine_;
  bool shutdown_ = false;
};

inline int checked_workers(std::optional<int> n, int fallback) {
  const int w = n.value_or(fallback);
  if (w <= 0) throw ValueError("max_workers must be greater than 0");
  return w;
}

inline std::optional<std::uint64_t> checked_max_tasks(std::optional<int> n) {
  if (!n) return std::nullopt;
  if (*n < 1) throw ValueError("max_tasks_per_child must be >= 1");
  return static_cast<std::uint64_t>(*n);
}

}  // namespace detail

/// Python's concurrent.futures.ProcessPoolExecutor. Move-only; the destructor
/// is shutdown(true).
class ProcessPoolExecutor : public detail::basic_executor<false> {
 public:
  /// max_workers worker processes; ValueError if not positive.
  explicit ProcessPoolExecutor(int max_workers = process_cpu_count())
      : ProcessPoolExecutor(ExecutorOptions{max_workers, std::nullopt}) {}
  explicit ProcessPoolExecutor(ExecutorOptions o) {
    detail::engine_options e;
    e.processes = detail::checked_workers(o.max_workers, process_cpu_count());
    e.maxtasks = detail::checked_max_tasks(o.max_tasks_per_child);
    e.break_on_death = true;
    e.name_prefix = "ForkProcess";
    start(std::make_unique<detail::process_engine>(std::move(e)));
  }
  ProcessPoolExecutor(ProcessPoolExecutor&&) noexcept = default;
  ProcessPoolExecutor& operator=(ProcessPoolExecutor&&) noexcept = default;

  /// SIGTERM to every worker now; queued calls are cancelled, running ones fail
  /// with BrokenProcessPool (Python 3.14).
  void terminate_workers() { force(SIGTERM); }
  /// As terminate_workers, with SIGKILL.
  void kill_workers() { force(SIGKILL); }

 private:
  void force(int sig) {
    shutdown(false, true);
    engine().signal_workers(sig);
  }
};

/// Python's concurrent.futures.ThreadPoolExecutor: the same interface on
/// threads; any callable, any types.
class ThreadPoolExecutor : public detail::basic_executor<true> {
 public:
  /// Python's default: min(32, process_cpu_count() + 4) threads.
  explicit ThreadPoolExecutor(int max_workers = std::min(32, process_cpu_count() + 4))
      : ThreadPoolExecutor(ExecutorOptions{max_workers, std::nullopt}) {}
  explicit ThreadPoolExecutor(ExecutorOptions o) {
    const int n = detail::checked_workers(o.max_workers, std::min(32, process_cpu_count() + 4));
    start(std::make_unique<detail::thread_engine>(n, nullptr,
                                                  detail::checked_max_tasks(o.max_tasks_per_child)));
  }
  ThreadPoolExecutor(ThreadPoolExecutor&&) noexcept = default;
  ThreadPoolExecutor& operator=(ThreadPoolExecutor&&) noexcept = default;
};

}  // namespace multiprocessing
