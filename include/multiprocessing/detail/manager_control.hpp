#pragma once
// A Manager's shared state: one small segment holding the shutdown flag and
// the head of the chain of every container the manager made (each anchor
// names the one made before it), so that shutdown() finds and removes them
// all, including the ones forked children made. The head is double-buffered
// (write the spare name slot, then flip the index) so a process killed while
// making a container never leaves a torn name behind.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "deadline.hpp"
#include "manager_container.hpp"
#include "manager_segment.hpp"
#include "robust_mutex.hpp"

namespace multiprocessing::detail {

struct manager_control_block {
  robust_mutex mutex;
  std::atomic<std::uint32_t> shut_down{0};
  std::atomic<std::uint32_t> head_slot{0};
  shared_name head[2]{};
};

inline constexpr std::uint64_t manager_control_kind = 0x6d70636f6e74726cULL;  // "mpcontrl"

/// How long shutdown() waits for an operation in progress on a container
/// (a long apply() in another process) before removing it anyway.
inline constexpr std::chrono::seconds manager_shutdown_wait{2};

class manager_registry {
 public:
  manager_registry(const manager_registry&) = delete;
  manager_registry& operator=(const manager_registry&) = delete;

  /// Throws OSError if no segment can be made.
  static std::shared_ptr<manager_registry> create() {
    auto seg = manager_segment::create(manager_segment_name(), sizeof(manager_control_block),
                                       manager_control_kind);
    auto* block = ::new (static_cast<void*>(seg->payload())) manager_control_block;
    return std::shared_ptr<manager_registry>(new manager_registry(std::move(seg), block));
  }

  bool is_shut_down() const noexcept {
    return block_->shut_down.load(std::memory_order_acquire) != 0;
  }

  /// A new container in this manager. ProcessError after shutdown.
  std::shared_ptr<container> make(std::uint64_t type, store_shape shape,
                                  std::uint32_t packed_key = 0, std::uint32_t packed_value = 0) {
    control_lock guard(*block_);
    if (is_shut_down()) throw_manager_shut_down();
    const std::uint32_t slot = block_->head_slot.load(std::memory_order_relaxed);
    const std::string name = manager_segment_name();
    auto c = container::create(name, type, shape, block_->head[slot].get(), packed_key,
                               packed_value);
    block_->head[1 - slot].set(name);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    block_->head_slot.store(1 - slot, std::memory_order_release);
    return c;
  }

  /// Marks every container shut down and removes every segment of the
  /// manager. Proxies keep their mappings, so later operations throw
  /// ProcessError instead of touching unmapped memory. Idempotent.
  void shutdown() noexcept {
    control_lock guard(*block_);
    if (block_->shut_down.exchange(1, std::memory_order_acq_rel) != 0) return;
    std::string name = block_->head[block_->head_slot.load(std::memory_order_relaxed)].get();
    while (!name.empty()) name = retire(name);
    manager_segment_unlink(seg_->name());
  }

 private:
  manager_registry(std::shared_ptr<manager_segment> seg, manager_control_block* block)
      : seg_(std::move(seg)), block_(block) {}

  struct control_lock {
    explicit control_lock(manager_control_block& b) : b_(b) {
      b_.mutex.lock(lock_owner_id(), deadline::never());
    }
    ~control_lock() { b_.mutex.unlock(); }
    manager_control_block& b_;
  };

  /// Shuts one container down and removes its segments; returns the next name.
  static std::string retire(const std::string& name) noexcept {
    try {
      auto seg = manager_segment::attach(name, manager_anchor_kind);
      if (seg->payload_size() < sizeof(manager_anchor)) {
        manager_segment_unlink(name);
        return {};
      }
      auto& a = *std::launder(reinterpret_cast<manager_anchor*>(seg->payload()));
      a.shut_down.store(1, std::memory_order_release);
      // Wait for an operation in progress (it may be growing the container
      // into a segment whose name is not in the anchor yet).
      const bool held =
          a.mutex.lock(lock_owner_id(), deadline::after(manager_shutdown_wait));
      const std::string next = a.next.get();
      manager_segment_unlink(a.data[0].get());
      manager_segment_unlink(a.data[1].get());
      manager_segment_unlink(name);
      if (held) a.mutex.unlock();
      return next;
    } catch (...) {
      // Gone already or unreadable: remove the name; the rest of the chain
      // is lost to us and left to the resource tracker.
      manager_segment_unlink(name);
      return {};
    }
  }

  std::shared_ptr<manager_segment> seg_;
  manager_control_block* block_;
};

}  // namespace multiprocessing::detail
