#pragma once
// The named segments behind a Manager: unlike arena.hpp's segments, no
// process unlinks one when its last handle drops. A manager's containers
// live until Manager::shutdown() (as the objects of Python's manager server
// do), and segments made by whichever process grew a container must outlive
// that process; shutdown() unlinks them all by name, and the resource
// tracker removes whatever a killed manager left behind.

#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "arena.hpp"
#include "config.hpp"
#include "posix/shm.hpp"
#include "resource_tracker.hpp"

namespace multiprocessing::detail {

/// Longest segment name a manager stores in shared memory, '\0' included.
inline constexpr std::size_t manager_name_max = 64;

/// Maps a whole segment (its size reserved as address space; pages come
/// when committed or touched).
inline std::byte* manager_map(int fd, std::size_t size, const std::string& name) {
  void* p = posix::sys().mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_os_error("mmap", name);
  return static_cast<std::byte*>(p);
}

/// Maps the pages of [addr, addr + size) in at once: one system call instead
/// of a page fault per page (each costs microseconds in a VM). Best effort.
inline void manager_prefault(std::byte* addr, std::size_t size) noexcept {
#ifdef MADV_POPULATE_WRITE
  const auto start = reinterpret_cast<std::uintptr_t>(addr);
  const std::uintptr_t page = 4096;
  const std::uintptr_t first = start & ~(page - 1);
  (void)::madvise(reinterpret_cast<void*>(first), size + (start - first), MADV_POPULATE_WRITE);
#else
  (void)addr, (void)size;
#endif
}

/// How many forks made this process (counting from the first container it
/// made or mapped): a forked child inherits its parent's mappings of shared
/// segments but not their page tables, so it maps every page again.
inline std::atomic<std::uint32_t> manager_fork_count{0};

inline void manager_count_fork() noexcept {
  manager_fork_count.fetch_add(1, std::memory_order_relaxed);
}

/// The fork count, counting from now on (so callable at any first use).
inline std::uint32_t manager_forks() noexcept {
  static const bool registered = (::pthread_atfork(nullptr, nullptr, &manager_count_fork), true);
  (void)registered;
  return manager_fork_count.load(std::memory_order_relaxed);
}

/// A fresh segment name, "/mpcpp-<pid>-<random>" (the leak checks know the prefix).
inline std::string manager_segment_name() {
  return "/" + posix::unique_shm_name(segment_prefix);
}

/// Removes a manager segment's name (ENOENT is fine: already removed).
inline void manager_segment_unlink(const std::string& name) noexcept {
  if (name.empty()) return;
  (void)posix::shm_remove(name);
  resource_tracker::instance().unregister_segment(name);
}

/// One mapping of one manager segment in this process; unmaps, never unlinks.
class manager_segment {
 public:
  manager_segment(const manager_segment&) = delete;
  manager_segment& operator=(const manager_segment&) = delete;
  ~manager_segment() { posix::shm_unmap(base_, size_); }

  /// Creates segment `name` exclusively with `payload_size` bytes of payload,
  /// of which the first `committed` are backed by memory now (a full
  /// /dev/shm is an OSError here, never a SIGBUS later; commit() backs more),
  /// registered with the resource tracker.
  static std::shared_ptr<manager_segment> create(const std::string& name,
                                                 std::size_t payload_size, std::uint64_t kind,
                                                 std::size_t committed = ~std::size_t{0}) {
    if (committed > payload_size) committed = payload_size;
    int err = 0;
    posix::unique_fd fd = posix::shm_open_fd(name, true, err);
    if (!fd) throw_os_error("shm_open", err, name);
    resource_tracker::instance().register_segment(name);
    const std::size_t total = payload_offset + payload_size;
    std::byte* base = nullptr;
    try {
      if (posix::sys().ftruncate(fd.get(), static_cast<off_t>(total)) != 0)
        throw_os_error("ftruncate", name);
      reserve(fd.get(), 0, payload_offset + committed, name);
      base = manager_map(fd.get(), total, name);
      manager_prefault(base, payload_offset + committed);
    } catch (...) {
      manager_segment_unlink(name);
      throw;
    }
    auto* h = reinterpret_cast<segment_header*>(base);
    h->magic = MULTIPROCESSING_SHM_MAGIC;
    h->layout = MULTIPROCESSING_SHM_LAYOUT;
    h->kind = kind;
    h->payload_size = payload_size;
    return std::shared_ptr<manager_segment>(new manager_segment(name, base, total));
  }

  /// Maps an existing segment. OSError if it no longer exists; ProcessError
  /// if it is not a manager segment of this build holding `kind`.
  static std::shared_ptr<manager_segment> attach(const std::string& name, std::uint64_t kind) {
    if (name.size() < 2 || name.size() >= manager_name_max || name[0] != '/' ||
        name.find('/', 1) != std::string::npos)
      throw ProcessError(fmt::format("invalid manager segment name '{}'", name));
    int err = 0;
    posix::unique_fd fd = posix::shm_open_fd(name, false, err);
    if (!fd) throw_os_error("shm_open", err, name);
    const std::size_t total = posix::shm_size(fd.get(), name);
    if (total < payload_offset)
      throw ProcessError(fmt::format("shared segment '{}' is too small to be ours", name));
    auto seg = std::shared_ptr<manager_segment>(
        new manager_segment(name, manager_map(fd.get(), total, name), total));
    const auto* h = reinterpret_cast<const segment_header*>(seg->base_);
    if (h->magic != MULTIPROCESSING_SHM_MAGIC || h->layout != MULTIPROCESSING_SHM_LAYOUT)
      throw ProcessError(fmt::format(
          "shared segment '{}' was made by another build or is corrupt (bad magic/layout)", name));
    if (h->kind != kind)
      throw ProcessError(fmt::format("shared segment '{}' holds another type of object", name));
    if (h->payload_size != total - payload_offset)
      throw ProcessError(fmt::format("shared segment '{}' is not as long as its header says", name));
    return seg;
  }

  /// Backs payload bytes [from, to) with memory (see create). Throws OSError.
  void commit(std::size_t from, std::size_t to) {
    int err = 0;
    posix::unique_fd fd = posix::shm_open_fd(name_, false, err);
    if (!fd) throw_os_error("shm_open", err, name_);
    reserve(fd.get(), payload_offset + from, to - from, name_);
    manager_prefault(payload() + from, to - from);
  }

  const std::string& name() const noexcept { return name_; }
  std::byte* payload() const noexcept { return base_ + payload_offset; }
  std::size_t payload_size() const noexcept { return size_ - payload_offset; }

 private:
  static void reserve(int fd, std::size_t offset, std::size_t size, const std::string& name) {
    // posix_fallocate returns the error instead of setting errno.
    if (int err = posix::sys().posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(size));
        err != 0)
      throw_os_error("posix_fallocate", err, name);
  }

  manager_segment(std::string name, std::byte* base, std::size_t size)
      : name_(std::move(name)), base_(base), size_(size) {}

  std::string name_;
  std::byte* base_;
  std::size_t size_;
};

/// A segment name in shared memory: fixed size, always '\0'-terminated when read.
struct shared_name {
  char text[manager_name_max];

  void set(std::string_view s) noexcept {
    const std::size_t n = s.size() < manager_name_max - 1 ? s.size() : manager_name_max - 1;
    std::memcpy(text, s.data(), n);
    text[n] = '\0';
  }
  void clear() noexcept { text[0] = '\0'; }
  bool empty() const noexcept { return text[0] == '\0'; }
  std::string get() const { return std::string(text, ::strnlen(text, manager_name_max)); }
};

}  // namespace multiprocessing::detail
