#pragma once
/// mp::Pool and mp::ThreadPool (Python's multiprocessing.pool): apply, map,
/// starmap, imap, imap_unordered and their _async forms, AsyncResult and
/// IMapIterator. Callbacks are tagged arguments, mp::callback(f) and
/// mp::error_callback(f) (detail/pool_args.hpp); they run in the parent, on
/// the pool's result thread, before the result becomes ready.
///
/// Beyond Python: a worker that dies while running a task (signal, _exit)
/// fails exactly that task (or chunk) with WorkerLostError and is replaced.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/deadline.hpp"
#include "detail/pool_args.hpp"
#include "detail/pool_engine.hpp"
#include "detail/pool_entries.hpp"
#include "detail/pool_imap.hpp"
#include "detail/pool_result.hpp"
#include "detail/pool_thread_engine.hpp"
#include "exceptions.hpp"
#include "process.hpp"

namespace multiprocessing {

/// Pool(PoolOptions): Python's Pool(processes=, maxtasksperchild=).
/// (The `context` member arrives with context.hpp.)
struct PoolOptions {
  std::optional<int> processes;        // empty: process_cpu_count()
  std::optional<int> maxtasksperchild;  // empty: workers live as long as the pool
};

/// The result of an _async call (Python's AsyncResult). A copyable handle.
template <class R>
class AsyncResult {
 public:
  AsyncResult() = default;
  explicit AsyncResult(std::shared_ptr<detail::result_state<R>> s) : s_(std::move(s)) {}

  /// Blocks until the result is ready; returns it or rethrows the task's exception.
  R get() const { return state().get(); }
  /// As get(), but TimeoutError if not ready within timeout.
  template <class Rep, class Period>
  R get(std::chrono::duration<Rep, Period> timeout) const {
    if (!state().wait_until(detail::deadline::after(timeout))) throw TimeoutError();
    return state().get();
  }
  /// Blocks until the result is ready.
  void wait() const { state().wait(); }
  /// Waits at most timeout; true if ready.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return state().wait_until(detail::deadline::after(timeout));
  }
  bool ready() const { return state().ready(); }
  /// Whether the task succeeded; ValueError if not ready yet.
  bool successful() const { return state().successful(); }

 private:
  detail::result_state<R>& state() const {
    if (!s_) throw ValueError("AsyncResult has no state");
    return *s_;
  }
  std::shared_ptr<detail::result_state<R>> s_;
};

/// imap / imap_unordered results (Python's IMapIterator): next(), next(timeout),
/// and a single-pass range. A failed task's exception is thrown where its
/// result would have been; iteration may go on after it.
template <class R>
class IMapIterator {
  using item_t = detail::stored_t<R>;

 public:
  using value_type = item_t;

  explicit IMapIterator(std::shared_ptr<detail::imap_state<R>> s) : s_(std::move(s)) {}

  /// The next result (nullopt after the last); blocks until it is there.
  std::optional<item_t> next() { return s_->next(detail::deadline::never()); }
  /// As next(), but TimeoutError if it does not come within timeout.
  template <class Rep, class Period>
  std::optional<item_t> next(std::chrono::duration<Rep, Period> timeout) {
    return s_->next(detail::deadline::after(timeout));
  }

  class iterator {
   public:
    using value_type = item_t;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(IMapIterator* owner) : owner_(owner) { advance(); }
    item_t& operator*() const { return *cur_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    bool operator==(std::default_sentinel_t) const { return !cur_; }

   private:
    void advance() {
      cur_.reset();
      cur_ = owner_->next();
    }
    IMapIterator* owner_ = nullptr;
    mutable std::optional<item_t> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::shared_ptr<detail::imap_state<R>> s_;
};

namespace detail {

/// Python's default chunk size for map: len / (4 * workers), rounded up.
inline std::size_t default_chunksize(std::size_t items, int workers) {
  if (items == 0) return 0;
  const std::size_t per = static_cast<std::size_t>(workers) * 4;
  return items / per + (items % per ? 1 : 0);
}

/// The items of a range: the range itself when it can be walked twice,
/// else a copy.
template <class Range>
decltype(auto) materialize(const Range& xs) {
  if constexpr (std::ranges::forward_range<const Range>) {
    return (xs);
  } else {
    using V = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
    std::vector<V> v;
    for (auto&& x : xs) v.push_back(x);
    return v;
  }
}

template <class F, class Arg, bool Star>
struct map_call {
  static decltype(auto) call(F& f, Arg&& a) {
    if constexpr (Star)
      return std::apply(f, std::move(a));
    else
      return std::invoke(f, std::move(a));
  }
  using result = std::remove_cvref_t<decltype(call(std::declval<F&>(), std::declval<Arg>()))>;
};

/// What Pool and ThreadPool share; Threads picks the engine.
template <bool Threads>
class basic_pool {
 public:
  basic_pool(basic_pool&&) noexcept = default;
  basic_pool& operator=(basic_pool&& o) noexcept {
    if (this != &o) {
      shutdown();
      engine_ = std::move(o.engine_);
      workers_ = o.workers_;
    }
    return *this;
  }
  /// Python's `with Pool() as p:` exit: terminate(), which also joins.
  ~basic_pool() { shutdown(); }

  /// f(args...) in a worker; blocks for the result (rethrows its exception).
  template <class F, class... Args>
  auto apply(F f, Args&&... args) {
    return apply_async(std::move(f), std::forward<Args>(args)...).get();
  }

  /// f(args...) in a worker. Arguments may end with mp::callback(...) and
  /// mp::error_callback(...). ValueError if the pool is closed.
  template <class F, class... Ts>
  auto apply_async(F f, Ts&&... ts) {
    auto args = strip_tags(std::forward<Ts>(ts)...);
    using R = apply_result_t<F, decltype(args)>;
    auto st = std::make_shared<apply_state<R>>(!Threads);
    st->set_callbacks(find_value_callback<R>(ts...), find_error_callback(ts...));
    if constexpr (Threads) {
      auto call = std::make_shared<std::pair<F, decltype(args)>>(std::move(f), std::move(args));
      engine().submit(thread_job{[st, call]() noexcept {
                                   try {
                                     if constexpr (std::is_void_v<R>) {
                                       std::apply(std::move(call->first), std::move(call->second));
                                       st->complete_value(std::monostate{});
                                     } else {
                                       st->complete_value(std::apply(std::move(call->first),
                                                                     std::move(call->second)));
                                     }
                                   } catch (...) {
                                     st->complete_error(std::current_exception());
                                   }
                                 },
                                 st, 0});
    } else {
      job_scratch scratch;
      std::apply([&](const auto&... a) { write_apply_job(scratch.get(), f, a...); }, args);
      engine().submit(apply_state<R>::job_ptr(st, scratch.get()));
    }
    return AsyncResult<R>(st);
  }

  /// [f(x) for x in xs], in chunks of chunksize items (0: Python's default);
  /// blocks; rethrows the first failed chunk's exception.
  template <class F, class Range>
  auto map(F f, const Range& xs, std::size_t chunksize = 0) {
    using R = typename map_call<F, item_of<Range>, false>::result;
    return take(map_impl<false>(std::move(f), xs, chunksize, value_callback_t<map_value_t<R>>(),
                                error_callback_fn()));
  }
  template <class F, class Range, class... Tags>
    requires(callback_tag<Tags> && ...)
  auto map_async(F f, const Range& xs, Tags&&... tags) {
    return map_async(std::move(f), xs, std::size_t{0}, std::forward<Tags>(tags)...);
  }
  /// As map, without blocking; may end with mp::callback / mp::error_callback.
  template <class F, class Range, class... Tags>
    requires(callback_tag<Tags> && ...)
  auto map_async(F f, const Range& xs, std::size_t chunksize, Tags&&... tags) {
    using R = typename map_call<F, item_of<Range>, false>::result;
    return AsyncResult<map_value_t<R>>(
        map_impl<false>(std::move(f), xs, chunksize, find_value_callback<map_value_t<R>>(tags...),
                        find_error_callback(tags...)));
  }

  /// [f(*t) for t in xs]: each item is a tuple of arguments.
  template <class F, class Range>
  auto starmap(F f, const Range& xs, std::size_t chunksize = 0) {
    using R = typename map_call<F, item_of<Range>, true>::result;
    return take(map_impl<true>(std::move(f), xs, chunksize, value_callback_t<map_value_t<R>>(),
                               error_callback_fn()));
  }
  template <class F, class Range, class... Tags>
    requires(callback_tag<Tags> && ...)
  auto starmap_async(F f, const Range& xs, Tags&&... tags) {
    return starmap_async(std::move(f), xs, std::size_t{0}, std::forward<Tags>(tags)...);
  }
  template <class F, class Range, class... Tags>
    requires(callback_tag<Tags> && ...)
  auto starmap_async(F f, const Range& xs, std::size_t chunksize, Tags&&... tags) {
    using R = typename map_call<F, item_of<Range>, true>::result;
    return AsyncResult<map_value_t<R>>(
        map_impl<true>(std::move(f), xs, chunksize, find_value_callback<map_value_t<R>>(tags...),
                       find_error_callback(tags...)));
  }

  /// Results of f over xs in input order, as they become available.
  /// ValueError if chunksize is 0.
  template <class F, class Range>
  auto imap(F f, const Range& xs, std::size_t chunksize = 1) {
    return imap_impl(std::move(f), xs, chunksize, true);
  }
  /// As imap, in the order the results arrive.
  template <class F, class Range>
  auto imap_unordered(F f, const Range& xs, std::size_t chunksize = 1) {
    return imap_impl(std::move(f), xs, chunksize, false);
  }

  /// No more tasks; workers leave once the queued ones are done.
  void close() {
    if (engine_) engine_->close();
  }
  /// Stops the workers now (unfinished tasks fail with ProcessError) and joins them.
  void terminate() {
    if (!engine_) return;
    engine_->terminate(std::make_exception_ptr(ProcessError("the pool was terminated")));
    engine_->join();
  }
  /// Waits for the workers to finish; ValueError before close() or terminate().
  void join() {
    if (engine_) engine_->join();
  }

 protected:
  using engine_t = std::conditional_t<Threads, thread_engine, process_engine>;

  basic_pool() = default;
  void start(std::unique_ptr<engine_t> e, int workers) {
    engine_ = std::move(e);
    workers_ = workers;
  }

 private:
  template <class Range>
  using item_of = std::remove_cvref_t<std::ranges::range_value_t<Range>>;

  engine_t& engine() {
    if (!engine_) throw ValueError("Pool not running");
    return *engine_;
  }

  void shutdown() noexcept {
    try {
      terminate();
    } catch (...) {  // a destructor never throws
    }
    engine_.reset();
  }

  template <class S>
  static auto take(std::shared_ptr<S> st) {
    return st->take();
  }

  template <bool Star, class F, class Range, class OnValue>
  auto map_impl(F f, const Range& range, std::size_t chunksize, OnValue on_value,
                error_callback_fn on_error) {
    using Arg = item_of<Range>;
    using R = typename map_call<F, Arg, Star>::result;
    decltype(auto) xs = materialize(range);
    const auto n = static_cast<std::size_t>(std::ranges::distance(xs));
    if (chunksize == 0) chunksize = default_chunksize(n, workers_);
    auto st = std::make_shared<map_state<R>>(n, chunksize, !Threads);
    st->set_callbacks(std::move(on_value), std::move(on_error));
    if (!engine_ || !engine_->running()) throw ValueError("Pool not running");
    if (n == 0) {
      st->complete_if_empty();
      return st;
    }
    submit_chunks<Star, Arg, R>(f, xs, st);
    return st;
  }

  template <class F, class Range>
  auto imap_impl(F f, const Range& range, std::size_t chunksize, bool ordered) {
    if (chunksize < 1) throw ValueError("Chunksize must be 1+, not 0");
    using Arg = item_of<Range>;
    using R = typename map_call<F, Arg, false>::result;
    decltype(auto) xs = materialize(range);
    const auto n = static_cast<std::size_t>(std::ranges::distance(xs));
    auto st = std::make_shared<imap_state<R>>(n, chunksize, ordered, !Threads);
    if (!engine_ || !engine_->running()) throw ValueError("Pool not running");
    submit_chunks<false, Arg, R>(f, xs, st);
    return IMapIterator<R>(st);
  }

  // One job per chunk, each submitted as soon as it is made.
  template <bool Star, class Arg, class R, class F, class Items, class State>
  void submit_chunks(const F& f, const Items& xs, const std::shared_ptr<State>& st) {
    auto it = std::ranges::begin(xs);
    const std::size_t chunks = st->chunks();
    if constexpr (Threads) {
      auto fn = std::make_shared<F>(f);
      std::vector<thread_job> jobs;
      jobs.reserve(chunks);
      for (std::size_t c = 0; c < chunks; ++c) {
        const std::size_t k = st->chunk_size(c);
        std::vector<Arg> items;
        items.reserve(k);
        for (std::size_t i = 0; i < k; ++i, ++it) items.push_back(static_cast<Arg>(*it));
        jobs.push_back(thread_job{
            [fn, st, c, items = std::move(items)]() mutable noexcept {
              try {
                std::vector<stored_t<R>> out;
                if constexpr (!std::is_void_v<R>) out.reserve(items.size());
                for (auto& a : items) {
                  if constexpr (std::is_void_v<R>)
                    map_call<F, Arg, Star>::call(*fn, std::move(a));
                  else
                    out.push_back(map_call<F, Arg, Star>::call(*fn, std::move(a)));
                }
                st->done_values(c, std::move(out));
              } catch (...) {
                st->fail(c, std::current_exception());
              }
            },
            st, c});
      }
      engine().submit(std::move(jobs));
    } else {
      for (std::size_t c = 0; c < chunks; ++c) {
        const std::size_t k = st->chunk_size(c);
        auto frame = make_chunk_job<Star, Arg>(f, it, k);
        std::ranges::advance(it, static_cast<std::ptrdiff_t>(k));
        engine().submit(make_process_job(st, std::move(frame), c));
      }
    }
  }

  std::unique_ptr<engine_t> engine_;
  int workers_ = 1;
};

}  // namespace detail

/// A pool of worker processes (Python's multiprocessing.Pool). Tasks are
/// transferable callables with transferable arguments; they reach workers as
/// bytes. Move-only; the destructor terminates and joins, like Python's `with`.
class Pool : public detail::basic_pool<false> {
 public:
  /// process_cpu_count() workers.
  Pool() : Pool(PoolOptions{}) {}
  /// `processes` workers; ValueError if less than 1.
  explicit Pool(int processes) : Pool(PoolOptions{processes, std::nullopt}) {}
  /// Each worker runs initializer(initargs...) first (Python's initializer=, initargs=).
  template <class Init, class... InitArgs>
  Pool(int processes, Init initializer, InitArgs... initargs)
      : Pool(PoolOptions{processes, std::nullopt}, std::move(initializer), std::move(initargs)...) {}
  explicit Pool(PoolOptions o) { start_pool(o, {}); }
  /// Options and an initializer.
  template <class Init, class... InitArgs>
  Pool(PoolOptions o, Init initializer, InitArgs... initargs) {
    start_pool(o, detail::make_apply_job(initializer, initargs...));
  }
  Pool(Pool&&) noexcept = default;
  Pool& operator=(Pool&&) noexcept = default;

 private:
  void start_pool(const PoolOptions& o, std::vector<std::byte> init) {
    detail::engine_options e;
    e.processes = o.processes.value_or(process_cpu_count());
    if (o.maxtasksperchild) {
      if (*o.maxtasksperchild < 1)
        throw ValueError("maxtasksperchild must be a positive int or None");
      e.maxtasks = static_cast<std::uint64_t>(*o.maxtasksperchild);
    }
    e.init_job = std::move(init);
    start(std::make_unique<detail::process_engine>(std::move(e)), o.processes.value_or(process_cpu_count()));
  }
};

/// Pool's interface on threads (Python's multiprocessing.pool.ThreadPool):
/// any callable, any argument types; nothing is copied between processes.
class ThreadPool : public detail::basic_pool<true> {
 public:
  ThreadPool() : ThreadPool(PoolOptions{}) {}
  explicit ThreadPool(int processes) : ThreadPool(PoolOptions{processes, std::nullopt}) {}
  template <class Init, class... InitArgs>
  ThreadPool(int processes, Init initializer, InitArgs... initargs)
      : ThreadPool(PoolOptions{processes, std::nullopt}, std::move(initializer),
                   std::move(initargs)...) {}
  explicit ThreadPool(PoolOptions o) { start_pool(o, {}); }
  template <class Init, class... InitArgs>
  ThreadPool(PoolOptions o, Init initializer, InitArgs... initargs) {
    start_pool(o, [f = std::move(initializer),
                   args = std::make_tuple(std::move(initargs)...)]() mutable { std::apply(f, args); });
  }
  ThreadPool(ThreadPool&&) noexcept = default;
  ThreadPool& operator=(ThreadPool&&) noexcept = default;

 private:
  void start_pool(const PoolOptions& o, std::function<void()> init) {
    const int n = o.processes.value_or(process_cpu_count());
    std::optional<std::uint64_t> maxtasks;
    if (o.maxtasksperchild) {
      if (*o.maxtasksperchild < 1)
        throw ValueError("maxtasksperchild must be a positive int or None");
      maxtasks = static_cast<std::uint64_t>(*o.maxtasksperchild);
    }
    start(std::make_unique<detail::thread_engine>(n, std::move(init), maxtasks), n);
  }
};

}  // namespace multiprocessing
