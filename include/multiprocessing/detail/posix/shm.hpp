#pragma once
// Named POSIX shared-memory blocks for shared_memory.hpp: open, reserve, map,
// unmap, unlink. Every call a test may want to fail goes through sys().

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../../exceptions.hpp"
#include "fd.hpp"
#include "random.hpp"
#include "syscalls.hpp"

namespace multiprocessing::detail::posix {

/// A fresh block name (without the leading '/'): prefix, our pid, random bits.
inline std::string unique_shm_name(std::string_view prefix) {
  return fmt::format("{}{}-{:016x}", prefix, ::getpid(), random_u64());
}

/// Opens `path` ("/name"), creating it exclusively (mode 0600) if `create`.
/// Returns an invalid fd and sets `error` on failure.
inline unique_fd shm_open_fd(const std::string& path, bool create, int& error) noexcept {
  const int flags = create ? (O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC) : (O_RDWR | O_CLOEXEC);
  unique_fd fd(sys().shm_open(path.c_str(), flags, 0600));
  error = fd ? 0 : errno;
  return fd;
}

/// Sets the size of a new block and reserves its memory, so that a full
/// /dev/shm is an OSError now and never a SIGBUS on first touch. Throws
/// OSError naming "ftruncate" or "posix_fallocate".
inline void shm_reserve(int fd, std::size_t size, std::string_view path) {
  if (sys().ftruncate(fd, static_cast<off_t>(size)) != 0) throw_os_error("ftruncate", path);
  // posix_fallocate returns the error instead of setting errno.
  if (int err = sys().posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0)
    throw_os_error("posix_fallocate", err, path);
}

/// The current size of an open block. Throws OSError("fstat").
inline std::size_t shm_size(int fd, std::string_view path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_os_error("fstat", path);
  return static_cast<std::size_t>(st.st_size);
}

/// Maps `size` bytes of the block read-write and shared. Throws OSError("mmap").
inline std::byte* shm_map(int fd, std::size_t size, std::string_view path) {
  void* p = sys().mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_os_error("mmap", path);
  return static_cast<std::byte*>(p);
}

inline void shm_unmap(std::byte* addr, std::size_t size) noexcept {
  if (addr != nullptr) ::munmap(addr, size);
}

/// Removes the name; returns 0 or the errno value.
inline int shm_remove(const std::string& path) noexcept {
  return ::shm_unlink(path.c_str()) == 0 ? 0 : errno;
}

/// This process's id (a forked copy of an owner must not act as the owner).
inline int shm_owner_pid() noexcept { return static_cast<int>(::getpid()); }

}  // namespace multiprocessing::detail::posix
