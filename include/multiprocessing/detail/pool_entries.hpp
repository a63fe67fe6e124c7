#pragma once
// The tasks a pool worker runs, as registered entries of the task registry
// (task.hpp): one call (apply, submit), a chunk of map items, a chunk of
// starmap tuples. A job travels as [entry id][callable][arguments]; the
// worker finds the entry by id in its own registry and runs it, so a running
// worker (forked, or later spawned) can run any task the program instantiated.
//
// Function pointers are looked up in the module tables on every save and load
// (dl_iterate_phdr, dladdr); both ends keep the last one of each type, so a
// stream of apply_async(f, ...) pays that once.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../exceptions.hpp"
#include "archive.hpp"
#include "pool_memory.hpp"
#include "task.hpp"

namespace multiprocessing::detail {

inline constexpr std::size_t fn_wire_size = 24;  // (module, offset, symbol hash)

/// Writes a callable, reusing the bytes of the last function pointer of this type.
template <class F>
void save_pool_callable(writer& w, const F& f) {
  if constexpr (is_function_pointer<F>) {
    thread_local F last = nullptr;
    thread_local std::array<std::byte, fn_wire_size> bytes{};
    if (f == nullptr || f != last) {
      std::vector<std::byte> tmp;
      writer t(tmp);
      save_callable(t, f);
      if (tmp.size() != fn_wire_size) {  // not the layout we cache: no cache
        w.write_bytes(tmp.data(), tmp.size());
        return;
      }
      std::memcpy(bytes.data(), tmp.data(), fn_wire_size);
      last = f;
    }
    w.write_bytes(bytes.data(), fn_wire_size);
  } else {
    save_callable(w, f);
  }
}

/// Reads a callable written by save_pool_callable; the last function pointer
/// of this type is remembered by its bytes, so it is resolved once.
template <class F>
F load_pool_callable(reader& r) {
  if constexpr (is_function_pointer<F>) {
    thread_local F last = nullptr;
    thread_local std::array<std::byte, fn_wire_size> bytes{};
    if (last != nullptr && r.remaining() >= fn_wire_size) {
      reader peek = r;
      if (std::memcmp(peek.take(fn_wire_size), bytes.data(), fn_wire_size) == 0) {
        (void)r.take(fn_wire_size);
        return last;
      }
    }
    reader start = r;
    F f = load_callable<F>(r);
    if (r.remaining() + fn_wire_size == start.remaining()) {
      std::memcpy(bytes.data(), start.take(fn_wire_size), fn_wire_size);
      last = f;
    }
    return f;
  } else {
    return load_callable<F>(r);
  }
}

/// Registers Entry::run at static initialization (as task_entry does) and
/// gives its id.
template <class Entry>
struct pool_entry_id {
  static std::uint64_t id() {
    static const std::uint64_t value = register_task(&Entry::run);
    return value;
  }
  static inline const std::uint64_t registered = id();
};

template <class Entry>
std::uint64_t entry_id() {
  (void)&pool_entry_id<Entry>::registered;
  return pool_entry_id<Entry>::id();
}

/// Types whose encoding is exactly their bytes (ints, floats, plain structs).
template <class T>
inline constexpr bool raw_bytes = kind_of<T>() == kind::bytes;

template <class F, class... Args>
inline constexpr bool pool_task_ok = assert_transferable_callable<F>::value &&
                                     (diagnose<Args>() && ...) && (transferable_v<Args> && ...);

/// One call: F, then each argument; writes the result (nothing for void).
template <class F, class... Args>
struct apply_entry {
  static void run(reader& in, writer& out) {
    if constexpr (pool_task_ok<F, Args...>) {
      F f = load_pool_callable<F>(in);
      std::tuple<Args...> args{detail::load<Args>(in)...};  // braces: read in order
      using R = std::invoke_result_t<F, Args...>;
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
};

/// A chunk of map items: F, a count, the items; writes the results in order.
/// The first exception ends the chunk (Python's mapstar).
template <class F, class Arg, bool Star>
struct chunk_entry {
  static void run(reader& in, writer& out) {
    if constexpr (pool_task_ok<F, Arg>) {
      F f = load_pool_callable<F>(in);
      const auto n = in.get<std::uint64_t>();
      using R = decltype(call(f, std::declval<Arg>()));
      using V = std::remove_cvref_t<R>;
      if constexpr (!std::is_void_v<R> && raw_bytes<V>) {
        // Results straight into place: one resize, no per-item append.
        if (n > in.remaining()) reader::fail("map chunk count larger than its input");
        auto& buf = out.buffer();
        const std::size_t base = buf.size();
        buf.reserve(base + n * sizeof(V));
        pool_prefault(buf.data() + base, n * sizeof(V));
        buf.resize(base + n * sizeof(V));
        for (std::uint64_t i = 0; i < n; ++i) {
          Arg a = detail::load<Arg>(in);
          const V v = call(f, std::move(a));
          std::memcpy(buf.data() + base + i * sizeof(V), &v, sizeof(V));
        }
        return;
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        Arg a = detail::load<Arg>(in);
        if constexpr (std::is_void_v<R>)
          call(f, std::move(a));
        else
          detail::save(out, call(f, std::move(a)));
      }
    }
  }
  static decltype(auto) call(F& f, Arg&& a) {
    if constexpr (Star)
      return std::apply(f, std::move(a));
    else
      return std::invoke(f, std::move(a));
  }
};

/// Bytes of one job: a 4-byte frame length (filled by finish_frame), the entry
/// id, then what the entry reads.
inline void begin_frame(writer& w) { w.put(std::uint32_t{0}); }
inline void finish_frame(std::vector<std::byte>& b) {
  if (b.size() - 4 >= 0xFFFFFFFFu) throw ValueError("a pool task's arguments exceed 4 GiB");
  auto len = static_cast<std::uint32_t>(b.size() - 4);
  std::memcpy(b.data(), &len, 4);
}

/// Writes the job bytes of f(args...) into b (cleared first).
template <class F, class... Args>
void write_apply_job(std::vector<std::byte>& b, const F& f, const Args&... args) {
  using entry = apply_entry<F, Args...>;
  b.clear();
  writer w(b);
  begin_frame(w);
  w.put(entry_id<entry>());
  save_pool_callable(w, f);
  (detail::save(w, args), ...);
  finish_frame(b);
}

/// The job bytes of f(args...).
template <class F, class... Args>
std::vector<std::byte> make_apply_job(const F& f, const Args&... args) {
  std::vector<std::byte> b;
  b.reserve(64);
  write_apply_job(b, f, args...);
  return b;
}

/// A thread's buffer for the bytes of a call before they go into its job:
/// a stream of apply_async allocates nothing for them.
class job_scratch {
 public:
  job_scratch() : b_(buffer()) {}
  job_scratch(const job_scratch&) = delete;
  job_scratch& operator=(const job_scratch&) = delete;
  ~job_scratch() {
    if (b_.capacity() > 64 * 1024) std::vector<std::byte>().swap(b_);  // a big argument passed
  }
  std::vector<std::byte>& get() noexcept { return b_; }

 private:
  static std::vector<std::byte>& buffer() {
    thread_local std::vector<std::byte> b;
    return b;
  }
  std::vector<std::byte>& b_;
};

/// The job bytes of f over [first, first + n) of a range's items.
template <bool Star, class Arg, class F, class It>
std::vector<std::byte> make_chunk_job(const F& f, It first, std::size_t n) {
  using entry = chunk_entry<F, Arg, Star>;
  std::vector<std::byte> b;
  if constexpr (bytes_safe<Arg>) {
    b.reserve(64 + n * sizeof(Arg));
    pool_prefault(b.data(), b.capacity());
  }
  writer w(b);
  begin_frame(w);
  w.put(entry_id<entry>());
  save_pool_callable(w, f);
  w.put(static_cast<std::uint64_t>(n));
  if constexpr (raw_bytes<Arg> && std::contiguous_iterator<It> &&
                std::is_same_v<std::iter_value_t<It>, Arg>) {
    if (n != 0) w.write_bytes(std::to_address(first), n * sizeof(Arg));
  } else if constexpr (raw_bytes<Arg>) {
    // Items made on the fly (an iota view): written into place, no append each.
    const std::size_t base = b.size();
    b.resize(base + n * sizeof(Arg));
    for (std::size_t i = 0; i < n; ++i, ++first) {
      const Arg a = static_cast<Arg>(*first);
      std::memcpy(b.data() + base + i * sizeof(Arg), &a, sizeof(Arg));
    }
  } else {
    for (std::size_t i = 0; i < n; ++i, ++first) detail::save(w, static_cast<const Arg&>(*first));
  }
  finish_frame(b);
  return b;
}

}  // namespace multiprocessing::detail
