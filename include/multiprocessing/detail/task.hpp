#pragma once
// Callables as task ids. A task is the instantiation task_entry<F, Args...>:
// a function that reads F and Args from bytes, invokes, and writes the result.
// Its id is where its code lies in its module (posix/module.hpp), the same
// number in every process running this binary. Every instantiation registers
// itself during static initialization, and a receiver only calls ids found in
// its own registry: bytes from a pipe never become an arbitrary jump.

#include <pthread.h>

#include <bit>
#include <cstdint>
#include <functional>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "archive.hpp"
#include "posix/module.hpp"

namespace multiprocessing::detail {

using task_fn = void (*)(reader& in, writer& out);

/// id -> entry function, for every task this program instantiated.
class task_registry {
 public:
  /// The process-wide registry; never destroyed, so tasks still resolve while
  /// static destructors run.
  static task_registry& instance() {
    static task_registry* r = new task_registry;
    return *r;
  }

  void add(std::uint64_t id, task_fn fn) {
    std::lock_guard<std::mutex> lock(m_);
    map_.emplace(id, fn);  // an identical-code-folded entry shares its id and code
  }
  /// The entry for id, or nullptr.
  task_fn find(std::uint64_t id) const {
    std::lock_guard<std::mutex> lock(m_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(m_);
    return map_.size();
  }

 private:
  task_registry() {
    // A fork while another thread holds the lock must not leave it locked in
    // the child.
    pthread_atfork([] { instance().m_.lock(); }, [] { instance().m_.unlock(); },
                   [] { instance().m_.unlock(); });
  }

  mutable std::mutex m_;
  std::unordered_map<std::uint64_t, task_fn> map_;
};

inline std::uint64_t task_id_of(posix::code_location where) noexcept {
  return where.module ^ (where.offset * 0x9E3779B97F4A7C15ULL);  // odd factor: one id per offset
}

/// Registers fn under its code location and returns its id.
inline std::uint64_t register_task(task_fn fn) {
  std::uint64_t id = task_id_of(posix::locate_code(reinterpret_cast<const void*>(fn)));
  task_registry::instance().add(id, fn);
  return id;
}

/// The entry registered under id; UnpicklingError if there is none.
inline task_fn find_task(std::uint64_t id) {
  task_fn fn = task_registry::instance().find(id);
  if (fn == nullptr)
    throw UnpicklingError(fmt::format("unknown task id {:#x}: not a task of this program", id));
  return fn;
}

// ---------------------------------------------------------------------------
// Callables. A function object that is not otherwise transferable travels as
// its bytes when trivially copyable (a captureless lambda is one byte, a
// lambda capturing ints is its ints). Its captures are not inspected: a
// lambda capturing a pointer or a reference sends an address, meaningful only
// in a forked child.

template <class F>
inline constexpr bool transferable_callable =
    transferable_v<F> ||
    (std::is_class_v<F> && !std::is_union_v<F> && std::is_trivially_copyable_v<F>);

template <class F>
struct assert_transferable_callable {
  static_assert(!std::is_reference_v<F> && !std::is_const_v<F>);
  static_assert(transferable_callable<F> || !std::is_class_v<F>,
                "this callable is not transferable: a function object must be trivially "
                "copyable (a lambda capturing only trivially copyable values) or have a member "
                "serialize(Archive&); use a function pointer, capture less, or pass the data as "
                "arguments");
  static_assert(transferable_callable<F> || std::is_class_v<F>,
                "this callable is not transferable: use a function pointer or a lambda");
  static constexpr bool value = transferable_callable<F>;
};

template <class F>
void save_callable(writer& w, const F& f) {
  if constexpr (transferable_v<F>)
    detail::save(w, f);
  else if constexpr (transferable_callable<F>)
    w.write_bytes(std::addressof(f), sizeof(F));
  else
    (void)assert_transferable_callable<F>::value;
}

template <class F>
F load_callable(reader& r) {
  if constexpr (transferable_v<F>) {
    return detail::load<F>(r);
  } else if constexpr (transferable_callable<F>) {
    struct raw {
      std::byte b[sizeof(F)];
    } bytes;
    r.read_bytes(bytes.b, sizeof(F));
    return std::bit_cast<F>(bytes);  // closures have no default constructor
  } else {
    (void)assert_transferable_callable<F>::value;
    not_transferable_at_run_time();
  }
}

template <class F, class... Args>
using task_result_t = std::invoke_result_t<F, Args...>;

/// Runs one call of F(Args...) from bytes: F, then each argument; writes the
/// result (nothing for void). Exceptions of the call propagate to the caller.
template <class F, class... Args>
struct task_entry {
  static constexpr bool ok = assert_transferable_callable<F>::value &&
                             (diagnose<Args>() && ...) &&
                             (transferable_v<Args> && ...);

  static void run(reader& in, writer& out) {
    if constexpr (ok) {
      F f = load_callable<F>(in);
      std::tuple<Args...> args{detail::load<Args>(in)...};  // braces: read in order
      using R = task_result_t<F, Args...>;
      if constexpr (std::is_void_v<R>) {
        std::apply([&f](Args&... a) { std::invoke(std::move(f), std::move(a)...); }, args);
      } else {
        static_assert(diagnose<std::decay_t<R>>());
        detail::save(out, std::apply(
                              [&f](Args&... a) -> R {
                                return std::invoke(std::move(f), std::move(a)...);
                              },
                              args));
      }
    }
  }

  static std::uint64_t id() {
    static const std::uint64_t value = register_task(&run);
    return value;
  }
  // Odr-used by task_id: makes every instantiation register at static
  // initialization, so a re-executed child knows it before it reads a message.
  static inline const std::uint64_t registered = id();
};

/// The id of the task that calls F with Args (decayed, as std::thread does).
template <class F, class... Args>
std::uint64_t task_id() {
  using entry = task_entry<std::decay_t<F>, std::decay_t<Args>...>;
  (void)&entry::registered;
  return entry::id();
}

/// Writes what task_entry<F, Args...>::run reads: the callable, then the arguments.
template <class F, class... Args>
void save_call(writer& w, const F& f, const Args&... args) {
  save_callable(w, f);
  (detail::save(w, args), ...);
}

/// Finds the task id and runs it on in, writing its result to out.
inline void run_task(std::uint64_t id, reader& in, writer& out) { find_task(id)(in, out); }

}  // namespace multiprocessing::detail
