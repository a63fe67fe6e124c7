#pragma once
// Exceptions across processes. The standard exceptions and the library's own
// come back as the same type with the same what(); any other type (a user's
// class, even one derived from a standard exception, or `throw 42`) comes back
// as RemoteError carrying the demangled type name and what().

#include <cxxabi.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeinfo>
#include <vector>

#include "../exceptions.hpp"
#include "archive.hpp"

namespace multiprocessing::detail {

enum class exception_kind : std::uint8_t {
  none,
  foreign,  // -> RemoteError(type name, what)
  std_exception,
  bad_alloc,
  logic_error,
  invalid_argument,
  domain_error,
  length_error,
  out_of_range,
  runtime_error,
  range_error,
  overflow_error,
  underflow_error,
  process_error,
  os_error,
  buffer_too_short,
  authentication_error,
  timeout_error,
  empty,
  full,
  eof_error,
  value_error,
  unpickling_error,
  remote_error,
  worker_lost_error,
  broken_process_pool,
  cancelled_error,
  broken_barrier_error,
  last = broken_barrier_error,
};

inline std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

/// Demangled name of the exception being handled (call inside a catch block).
inline std::string current_exception_type_name() {
  const std::type_info* t = abi::__cxa_current_exception_type();
  return t ? demangle(t->name()) : std::string("unknown exception");
}

/// The kind for an exception of exactly this type (derived types are foreign).
inline exception_kind exact_kind(const std::type_info& t) noexcept {
  struct entry {
    const std::type_info* type;
    exception_kind kind;
  };
  static const entry table[] = {
      {&typeid(std::exception), exception_kind::std_exception},
      {&typeid(std::bad_alloc), exception_kind::bad_alloc},
      {&typeid(std::logic_error), exception_kind::logic_error},
      {&typeid(std::invalid_argument), exception_kind::invalid_argument},
      {&typeid(std::domain_error), exception_kind::domain_error},
      {&typeid(std::length_error), exception_kind::length_error},
      {&typeid(std::out_of_range), exception_kind::out_of_range},
      {&typeid(std::runtime_error), exception_kind::runtime_error},
      {&typeid(std::range_error), exception_kind::range_error},
      {&typeid(std::overflow_error), exception_kind::overflow_error},
      {&typeid(std::underflow_error), exception_kind::underflow_error},
      {&typeid(ProcessError), exception_kind::process_error},
      {&typeid(OSError), exception_kind::os_error},
      {&typeid(BufferTooShort), exception_kind::buffer_too_short},
      {&typeid(AuthenticationError), exception_kind::authentication_error},
      {&typeid(TimeoutError), exception_kind::timeout_error},
      {&typeid(Empty), exception_kind::empty},
      {&typeid(Full), exception_kind::full},
      {&typeid(EOFError), exception_kind::eof_error},
      {&typeid(ValueError), exception_kind::value_error},
      {&typeid(UnpicklingError), exception_kind::unpickling_error},
      {&typeid(RemoteError), exception_kind::remote_error},
      {&typeid(WorkerLostError), exception_kind::worker_lost_error},
      {&typeid(BrokenProcessPool), exception_kind::broken_process_pool},
      {&typeid(CancelledError), exception_kind::cancelled_error},
      {&typeid(BrokenBarrierError), exception_kind::broken_barrier_error},
  };
  for (const auto& e : table)
    if (*e.type == t) return e.kind;
  return exception_kind::foreign;
}

inline void save_foreign(writer& w, const std::string& type, const std::string& what) {
  w.put(exception_kind::foreign);
  detail::save(w, type);
  detail::save(w, what);
}

/// Writes e (or "no exception" for nullptr) so that load_exception rebuilds it.
inline void save_exception(writer& w, std::exception_ptr e) {
  if (!e) {
    w.put(exception_kind::none);
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    exception_kind k = t ? exact_kind(*t) : exception_kind::foreign;
    std::string what = ex.what();
    if (k == exception_kind::os_error) {
      const auto& os = static_cast<const OSError&>(ex);
      // OSError's what() is built from (call, code, detail): recover detail.
      std::string head = os.call() + " failed on ";
      std::string tail = ": " + os.code().message();
      std::string on;
      if (what.size() > head.size() + tail.size() && what.compare(0, head.size(), head) == 0 &&
          what.compare(what.size() - tail.size(), tail.size(), tail) == 0)
        on = what.substr(head.size(), what.size() - head.size() - tail.size());
      bool system = os.code().category() == std::system_category();
      if (!system && os.code().category() != std::generic_category()) k = exception_kind::foreign;
      if (k == exception_kind::os_error &&
          OSError(os.call(), os.code(), on).what() != what)
        k = exception_kind::foreign;
      if (k == exception_kind::os_error) {
        w.put(k);
        detail::save(w, os.call());
        w.put(static_cast<std::int32_t>(os.code().value()));
        detail::save(w, system);
        detail::save(w, on);
        return;
      }
    }
    switch (k) {
      case exception_kind::foreign:
        save_foreign(w, current_exception_type_name(), what);
        return;
      case exception_kind::std_exception:
      case exception_kind::bad_alloc:  // what() is fixed by the type
        w.put(k);
        return;
      case exception_kind::buffer_too_short:
        w.put(k);
        detail::save(w, static_cast<const BufferTooShort&>(ex).message());
        return;
      case exception_kind::remote_error: {
        const auto& re = static_cast<const RemoteError&>(ex);
        std::string prefix = re.type_name() + ": ";
        w.put(k);
        detail::save(w, re.type_name());
        detail::save(w, what.compare(0, prefix.size(), prefix) == 0 ? what.substr(prefix.size())
                                                                      : what);
        return;
      }
      default:
        w.put(k);
        detail::save(w, what);
        return;
    }
  } catch (...) {
    save_foreign(w, current_exception_type_name(), "");
  }
}

/// Rebuilds an exception saved by save_exception (nullptr for "no exception").
/// Malformed input throws UnpicklingError (it is not returned).
inline std::exception_ptr load_exception(reader& r) {
  auto raw = r.get<std::uint8_t>();
  if (raw > static_cast<std::uint8_t>(exception_kind::last))
    reader::fail(fmt::format("unknown exception kind {}", raw));
  auto k = static_cast<exception_kind>(raw);
  using std::make_exception_ptr;
  switch (k) {
    case exception_kind::none:
      return nullptr;
    case exception_kind::foreign: {
      auto type = detail::load<std::string>(r);
      auto what = detail::load<std::string>(r);
      return make_exception_ptr(RemoteError(std::move(type), std::move(what)));
    }
    case exception_kind::std_exception:
      return make_exception_ptr(std::exception());
    case exception_kind::bad_alloc:
      return make_exception_ptr(std::bad_alloc());
    case exception_kind::os_error: {
      auto call = detail::load<std::string>(r);
      auto value = r.get<std::int32_t>();
      bool system = r.get_bool();
      auto on = detail::load<std::string>(r);
      std::error_code code(value, system ? std::system_category() : std::generic_category());
      return make_exception_ptr(OSError(call, code, on));
    }
    case exception_kind::buffer_too_short:
      return make_exception_ptr(BufferTooShort(detail::load<std::vector<std::byte>>(r)));
    case exception_kind::remote_error: {
      auto type = detail::load<std::string>(r);
      auto what = detail::load<std::string>(r);
      return make_exception_ptr(RemoteError(std::move(type), std::move(what)));
    }
    default:
      break;
  }
  auto what = detail::load<std::string>(r);
  switch (k) {
    case exception_kind::logic_error: return make_exception_ptr(std::logic_error(what));
    case exception_kind::invalid_argument: return make_exception_ptr(std::invalid_argument(what));
    case exception_kind::domain_error: return make_exception_ptr(std::domain_error(what));
    case exception_kind::length_error: return make_exception_ptr(std::length_error(what));
    case exception_kind::out_of_range: return make_exception_ptr(std::out_of_range(what));
    case exception_kind::runtime_error: return make_exception_ptr(std::runtime_error(what));
    case exception_kind::range_error: return make_exception_ptr(std::range_error(what));
    case exception_kind::overflow_error: return make_exception_ptr(std::overflow_error(what));
    case exception_kind::underflow_error: return make_exception_ptr(std::underflow_error(what));
    case exception_kind::process_error: return make_exception_ptr(ProcessError(what));
    case exception_kind::authentication_error:
      return make_exception_ptr(AuthenticationError(what));
    case exception_kind::timeout_error: return make_exception_ptr(TimeoutError(what));
    case exception_kind::empty: return make_exception_ptr(Empty(what));
    case exception_kind::full: return make_exception_ptr(Full(what));
    case exception_kind::eof_error: return make_exception_ptr(EOFError(what));
    case exception_kind::value_error: return make_exception_ptr(ValueError(what));
    case exception_kind::unpickling_error: return make_exception_ptr(UnpicklingError(what));
    case exception_kind::worker_lost_error: return make_exception_ptr(WorkerLostError(what));
    case exception_kind::broken_process_pool: return make_exception_ptr(BrokenProcessPool(what));
    case exception_kind::cancelled_error: return make_exception_ptr(CancelledError(what));
    case exception_kind::broken_barrier_error:
      return make_exception_ptr(BrokenBarrierError(what));
    default:
      reader::fail("unhandled exception kind");
  }
}

/// Throws the exception saved by save_exception; UnpicklingError if the input
/// is malformed or holds no exception.
[[noreturn]] inline void rethrow_saved(reader& r) {
  std::exception_ptr e = load_exception(r);
  if (!e) reader::fail("no exception was saved");
  std::rethrow_exception(e);
}

}  // namespace multiprocessing::detail

namespace multiprocessing {

/// std::exception_ptr is transferable: the exception comes back as described above.
template <>
struct transfer_traits<std::exception_ptr> {
  static void save(detail::writer& w, const std::exception_ptr& e) { detail::save_exception(w, e); }
  static std::exception_ptr load(detail::reader& r) { return detail::load_exception(r); }
};

}  // namespace multiprocessing
