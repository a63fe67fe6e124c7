#pragma once
// Shared-memory placement for the library's shared objects (locks, values,
// arrays, queue rings, manager tables).
//
// Each shared object lives in its own named POSIX segment, as CPython gives
// each SemLock its own named semaphore. One segment per object means a freed
// object's memory is never reused while another process may still map it, and
// the kernel frees the memory when the last mapping goes. A handle is
// (segment, offset): valid in a forked child (same mapping) and, by name, in a
// spawn or forkserver child. The creating process unlinks the name when its
// last handle drops; the resource tracker unlinks names whose creator was
// killed before it could.

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "config.hpp"
#include "posix/fd.hpp"
#include "posix/random.hpp"
#include "posix/syscalls.hpp"
#include "resource_tracker.hpp"
#include "type_name.hpp"

namespace multiprocessing::detail {

/// Prefix of every segment name the library creates: "/mpcpp-<pid>-<random>".
inline constexpr std::string_view segment_prefix = "mpcpp-";

/// At the start of every segment; the payload begins at payload_offset.
struct segment_header {
  std::uint64_t magic;
  std::uint32_t layout;
  std::uint32_t reserved;
  std::uint64_t kind;          // hash of the object's type name
  std::uint64_t payload_size;  // bytes after the header
};
inline constexpr std::size_t payload_offset = 64;
static_assert(sizeof(segment_header) <= payload_offset);

/// One mapping of one named segment in this process.
class segment {
 public:
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;

  /// Creates, sizes (reserving the memory, so a full /dev/shm is an OSError
  /// here and never a SIGBUS later) and maps a new segment.
  static std::shared_ptr<segment> create(std::size_t payload_size, std::uint64_t kind) {
    std::string name;
    posix::unique_fd fd;
    for (int attempt = 0;; ++attempt) {
      name = fmt::format("/{}{}-{:016x}", segment_prefix, ::getpid(), posix::random_u64());
      int raw = posix::sys().shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
      if (raw >= 0) {
        fd.reset(raw);
        break;
      }
      if (errno != EEXIST || attempt > 8) throw_os_error("shm_open", name);
    }
    // From here on the name exists: remove it again on any failure.
    resource_tracker::instance().register_segment(name);
    auto unlink_on_error = [&](std::string_view call, int err) {
      ::shm_unlink(name.c_str());
      resource_tracker::instance().unregister_segment(name);
      throw_os_error(call, err, name);
    };
    const std::size_t total = payload_offset + payload_size;
    if (posix::sys().ftruncate(fd.get(), static_cast<off_t>(total)) != 0)
      unlink_on_error("ftruncate", errno);
    if (int err = posix::sys().posix_fallocate(fd.get(), 0, static_cast<off_t>(total)); err != 0)
      unlink_on_error("posix_fallocate", err);
    void* p = posix::sys().mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) unlink_on_error("mmap", errno);
    auto* h = static_cast<segment_header*>(p);
    h->magic = MULTIPROCESSING_SHM_MAGIC;
    h->layout = MULTIPROCESSING_SHM_LAYOUT;
    h->kind = kind;
    h->payload_size = payload_size;
    auto seg = std::shared_ptr<segment>(new segment(std::move(name), p, total, ::getpid()));
    registry().remember(seg);
    return seg;
  }

  /// Maps an existing segment by name, or returns this process's mapping of it.
  /// Throws OSError if it no longer exists and ProcessError if it is not a
  /// segment of this library's layout holding `kind`.
  static std::shared_ptr<segment> attach(const std::string& name, std::uint64_t kind) {
    if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos)
      throw ProcessError(fmt::format("invalid shared segment name '{}'", name));
    if (auto seg = registry().find(name)) {
      seg->check(kind);
      return seg;
    }
    posix::unique_fd fd(posix::sys().shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600));
    if (!fd) throw_os_error("shm_open", name);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_os_error("fstat", name);
    const auto total = static_cast<std::size_t>(st.st_size);
    if (total < payload_offset)
      throw ProcessError(fmt::format("shared segment '{}' is too small to be ours", name));
    void* p = posix::sys().mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) throw_os_error("mmap", name);
    auto seg = std::shared_ptr<segment>(new segment(name, p, total, /*owner=*/0));
    seg->check(kind);
    registry().remember(seg);
    return seg;
  }

  ~segment() {
    registry().forget(name_);
    ::munmap(base_, size_);
    // Only the creator unlinks, and only in the process that created it: a
    // forked child drops inherited handles without taking the name away.
    if (owner_ != 0 && owner_ == ::getpid()) {
      ::shm_unlink(name_.c_str());
      resource_tracker::instance().unregister_segment(name_);
    }
  }

  const std::string& name() const noexcept { return name_; }
  std::byte* payload() const noexcept { return static_cast<std::byte*>(base_) + payload_offset; }
  std::size_t payload_size() const noexcept { return size_ - payload_offset; }

 private:
  segment(std::string name, void* base, std::size_t size, pid_t owner)
      : name_(std::move(name)), base_(base), size_(size), owner_(owner) {}

  void check(std::uint64_t kind) const {
    auto* h = static_cast<const segment_header*>(base_);
    if (h->magic != MULTIPROCESSING_SHM_MAGIC || h->layout != MULTIPROCESSING_SHM_LAYOUT)
      throw ProcessError(fmt::format(
          "shared segment '{}' was made by another build or is corrupt (bad magic/layout)", name_));
    if (h->kind != kind)
      throw ProcessError(fmt::format("shared segment '{}' holds another type of object", name_));
    if (h->payload_size > size_ - payload_offset)
      throw ProcessError(fmt::format("shared segment '{}' is shorter than its header says", name_));
  }

  // Per-process cache so that every handle to one object in one process
  // shares one mapping. Forks copy it; the mutex is held across fork so a
  // child never inherits it locked.
  class mapping_registry {
   public:
    mapping_registry() {
      ::pthread_atfork([] { registry().mutex_.lock(); }, [] { registry().mutex_.unlock(); },
                       [] { registry().mutex_.unlock(); });
    }
    std::shared_ptr<segment> find(const std::string& name) {
      std::lock_guard g(mutex_);
      auto it = map_.find(name);
      return it == map_.end() ? nullptr : it->second.lock();
    }
    void remember(const std::shared_ptr<segment>& seg) {
      std::lock_guard g(mutex_);
      map_[seg->name()] = seg;
    }
    void forget(const std::string& name) noexcept {
      std::lock_guard g(mutex_);
      auto it = map_.find(name);
      if (it != map_.end() && it->second.expired()) map_.erase(it);
    }

   private:
    std::mutex mutex_;
    std::map<std::string, std::weak_ptr<segment>, std::less<>> map_;
  };
  static mapping_registry& registry() {
    // Never destroyed: handles in static objects may outlive any other static.
    static auto* r = new mapping_registry;
    return *r;
  }

  std::string name_;
  void* base_;
  std::size_t size_;
  pid_t owner_;
};

/// A counted reference to a T that lives in its own shared segment, followed
/// by `extra` bytes (for arrays and rings). Copies share the object.
template <class T>
class shared_ref {
 public:
  shared_ref() = default;

  /// Creates the segment and constructs T(args...) at its start.
  template <class... Args>
  static shared_ref make(std::size_t extra, Args&&... args) {
    shared_ref r;
    r.seg_ = segment::create(sizeof(T) + extra, kind());
    r.ptr_ = ::new (static_cast<void*>(r.seg_->payload())) T(std::forward<Args>(args)...);
    return r;
  }
  /// Maps the object another process created (see segment::attach).
  static shared_ref attach(const std::string& name) {
    shared_ref r;
    r.seg_ = segment::attach(name, kind());
    if (r.seg_->payload_size() < sizeof(T))
      throw ProcessError(fmt::format("shared segment '{}' is too small for its type", name));
    r.ptr_ = std::launder(reinterpret_cast<T*>(r.seg_->payload()));
    return r;
  }

  T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return ptr_; }
  T& operator*() const noexcept { return *ptr_; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }
  /// Bytes after the T, inside the same segment.
  std::byte* extra() const noexcept { return seg_->payload() + sizeof(T); }
  std::size_t extra_size() const noexcept { return seg_->payload_size() - sizeof(T); }
  const std::string& name() const noexcept { return seg_->name(); }
  friend bool operator==(const shared_ref& a, const shared_ref& b) noexcept {
    return a.ptr_ == b.ptr_;
  }

  static std::uint64_t kind() noexcept { return type_hash<T>(); }

 private:
  std::shared_ptr<segment> seg_;
  T* ptr_ = nullptr;
};

}  // namespace multiprocessing::detail
