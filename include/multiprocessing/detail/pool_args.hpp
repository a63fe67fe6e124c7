#pragma once
// Python's keyword arguments callback= and error_callback= as tagged
// arguments: apply_async(f, x, mp::callback(on_value), mp::error_callback(on_error)).
// This file separates the tags from the call's own arguments and turns them
// into the callbacks the result states run.

#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "pool_result.hpp"

namespace multiprocessing {

/// Tag of a value callback (Python's callback=); see callback().
template <class F>
struct CallbackArg {
  F fn;
};
/// Tag of an error callback (Python's error_callback=); see error_callback().
template <class F>
struct ErrorCallbackArg {
  F fn;
};

/// callback=: run in the parent with the result (const R&; nothing for void,
/// the whole list for map_async) when a task succeeds, before get() returns.
template <class F>
CallbackArg<std::decay_t<F>> callback(F&& f) {
  return {std::forward<F>(f)};
}
/// error_callback=: run in the parent with the exception (as std::exception_ptr
/// or const std::exception&) when a task fails, before get() returns.
template <class F>
ErrorCallbackArg<std::decay_t<F>> error_callback(F&& f) {
  return {std::forward<F>(f)};
}

namespace detail {

template <class T>
struct is_callback_arg : std::false_type {};
template <class F>
struct is_callback_arg<CallbackArg<F>> : std::true_type {};
template <class T>
struct is_error_callback_arg : std::false_type {};
template <class F>
struct is_error_callback_arg<ErrorCallbackArg<F>> : std::true_type {};

template <class T>
concept callback_tag =
    is_callback_arg<std::decay_t<T>>::value || is_error_callback_arg<std::decay_t<T>>::value;

/// The call's own arguments (decayed), without the tags.
template <class T>
auto keep_argument(T&& t) {
  if constexpr (callback_tag<T>)
    return std::tuple<>();
  else
    return std::tuple<std::decay_t<T>>(std::forward<T>(t));
}
template <class... Ts>
auto strip_tags(Ts&&... ts) {
  return std::tuple_cat(keep_argument(std::forward<Ts>(ts))...);
}

template <class F, class Tuple>
struct apply_result;
template <class F, class... A>
struct apply_result<F, std::tuple<A...>> {
  using type = std::remove_cvref_t<std::invoke_result_t<F, A...>>;
};
template <class F, class Tuple>
using apply_result_t = typename apply_result<F, Tuple>::type;

template <class T, class... Ts>
value_callback_t<T> find_value_callback(const Ts&... ts) {
  value_callback_t<T> out;
  [[maybe_unused]] auto one = [&](const auto& t) {
    using U = std::decay_t<decltype(t)>;
    if constexpr (is_callback_arg<U>::value) {
      if constexpr (std::is_void_v<T>) {
        static_assert(std::is_invocable_v<const decltype(t.fn)&>,
                      "a callback for a task returning void takes no argument");
        out = [f = t.fn] { f(); };
      } else {
        static_assert(std::is_invocable_v<const decltype(t.fn)&, const T&>,
                      "the callback must accept the task's result (const R&)");
        out = [f = t.fn](const T& v) { f(v); };
      }
    }
  };
  (one(ts), ...);
  return out;
}

template <class... Ts>
error_callback_fn find_error_callback(const Ts&... ts) {
  error_callback_fn out;
  [[maybe_unused]] auto one = [&](const auto& t) {
    using U = std::decay_t<decltype(t)>;
    if constexpr (is_error_callback_arg<U>::value) {
      using F = decltype(t.fn);
      if constexpr (std::is_invocable_v<const F&, std::exception_ptr>) {
        out = [f = t.fn](std::exception_ptr e) { f(e); };
      } else {
        static_assert(std::is_invocable_v<const F&, const std::exception&>,
                      "the error callback must accept std::exception_ptr or const std::exception&");
        out = [f = t.fn](std::exception_ptr e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            f(ex);
          } catch (...) {  // not a std::exception: nothing of that form to pass
          }
        };
      }
    }
  };
  (one(ts), ...);
  return out;
}

}  // namespace detail
}  // namespace multiprocessing
