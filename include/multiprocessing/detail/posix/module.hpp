#pragma once
// Code addresses as (module, offset) pairs that mean the same function in
// this process, a forked child, a re-executed child and under ASLR/PIE: the
// module is named by a hash of its file name as the dynamic loader knows it
// (the main program is ""), the offset is relative to the module's load
// address (dl_iterate_phdr's dlpi_addr, which is dladdr's dli_fbase for a
// position-independent module).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // dladdr, dl_iterate_phdr
#endif
#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "../../exceptions.hpp"
#include "../type_name.hpp"

namespace multiprocessing::detail::posix {

struct code_location {
  std::uint64_t module;  // fnv1a of the module's file name
  std::uint64_t offset;  // address minus the module's load address
};

/// A function as sent: where it is, and which symbol starts there, so a
/// neighbouring function (another type, another meaning) is never called.
struct function_location {
  code_location code;
  std::uint64_t symbol;  // fnv1a of the mangled symbol name
};

inline std::uint64_t module_name_hash(const char* name) noexcept {
  return fnv1a(std::string_view(name ? name : ""));
}

struct module_search {
  // in
  std::uintptr_t addr = 0;
  std::uint64_t hash = 0;
  bool by_hash = false;
  // out
  bool found = false;
  bool executable = false;  // addr lies in an executable segment of the module
  std::uintptr_t base = 0;
  std::uint64_t module = 0;
};

inline bool segment_holds(const dl_phdr_info* info, std::uintptr_t addr, bool* exec) noexcept {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (addr >= start && addr - start < ph.p_memsz) {
      *exec = (ph.p_flags & PF_X) != 0;
      return true;
    }
  }
  return false;
}

inline int visit_module(dl_phdr_info* info, std::size_t, void* data) noexcept {
  auto* s = static_cast<module_search*>(data);
  std::uint64_t h = module_name_hash(info->dlpi_name);
  if (s->by_hash) {
    if (h != s->hash) return 0;
    s->base = info->dlpi_addr;
    s->addr = s->base + s->addr;  // offset -> address (wraps harmlessly on overflow)
    s->found = true;
    segment_holds(info, s->addr, &s->executable);
    return 1;
  }
  bool exec = false;
  if (!segment_holds(info, s->addr, &exec)) return 0;
  s->found = true;
  s->executable = exec;
  s->base = info->dlpi_addr;
  s->module = h;
  return 1;
}

/// Module and offset of the code at addr; ValueError if no loaded module holds it.
inline code_location locate_code(const void* addr) {
  module_search s;
  s.addr = reinterpret_cast<std::uintptr_t>(addr);
  dl_iterate_phdr(&visit_module, &s);
  if (!s.found || !s.executable)
    throw ValueError(fmt::format("address {} is not code of any loaded module", addr));
  return {s.module, static_cast<std::uint64_t>(s.addr - s.base)};
}

/// The fnv1a hash of the name of the dynamic symbol starting exactly at addr
/// (dladdr's dli_saddr == addr), or nullopt if no exported symbol starts there.
inline std::optional<std::uint64_t> exported_symbol_at(const void* addr) noexcept {
  Dl_info info{};
  if (dladdr(addr, &info) == 0) return std::nullopt;
  if (info.dli_saddr != addr || info.dli_sname == nullptr) return std::nullopt;
  return fnv1a(info.dli_sname);
}

inline constexpr std::string_view function_pointer_advice =
    "only functions with external linkage, exported by the program (link with -rdynamic), "
    "can be sent as function pointers; give the function external linkage, or wrap it in a "
    "lambda";

/// Where a function pointer points, for sending; ValueError if the receiver
/// could not find it again (not the start of an exported function).
inline function_location locate_function(const void* fn) {
  code_location where = locate_code(fn);
  auto symbol = exported_symbol_at(fn);
  if (!symbol)
    throw ValueError(fmt::format("function at {} cannot be transferred: {}", fn,
                                 function_pointer_advice));
  return {where, *symbol};
}

/// The function a received (module, offset) names; UnpicklingError unless it is
/// the start of an exported function in that module's executable code, so
/// bytes never become a jump to an arbitrary address.
inline const void* resolve_function(std::uint64_t module, std::uint64_t offset,
                                    std::uint64_t symbol) {
  module_search s;
  s.by_hash = true;
  s.hash = module;
  s.addr = static_cast<std::uintptr_t>(offset);
  dl_iterate_phdr(&visit_module, &s);
  if (!s.found) throw UnpicklingError("function pointer names a module that is not loaded");
  auto addr = reinterpret_cast<const void*>(s.addr);
  auto found = s.executable ? exported_symbol_at(addr) : std::nullopt;
  if (!found)
    throw UnpicklingError(fmt::format(
        "function pointer at offset {:#x} is not the start of an exported function: {}", offset,
        function_pointer_advice));
  if (*found != symbol)
    throw UnpicklingError(fmt::format(
        "function pointer at offset {:#x} names another function than the sender's (the "
        "programs differ)",
        offset));
  return addr;
}

}  // namespace multiprocessing::detail::posix
