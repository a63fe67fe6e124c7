#pragma once
// Every queue endpoint of this process, by segment name: handles that reach
// one queue (copies, or loaded from bytes) share one endpoint, hence one
// buffer and one feeder, so a thread's items stay in order. The registry
// also makes fork safe (no endpoint lock is held across it; the child's
// endpoints start empty) and flushes feeders at exit (process_state's exit
// hook: after a Process target, at exit() and at the end of main).

#include <pthread.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "arena.hpp"
#include "deadline.hpp"
#include "process_state.hpp"
#include "queue_endpoint.hpp"
#include "queue_layout.hpp"

namespace multiprocessing::detail {

class queue_registry {
 public:
  static queue_registry& get() {
    // Never destroyed: handles in static objects may outlive any other static.
    static auto* r = new queue_registry;
    return *r;
  }

  /// A new queue's endpoint. capacity 0: the default ring size.
  std::shared_ptr<queue_endpoint> create(std::uint64_t maxsize, queue_kind kind,
                                         std::uint64_t item_type, std::uint64_t capacity) {
    if (capacity == 0) capacity = default_ring_capacity;
    if (capacity > max_ring_capacity)
      throw ValueError(fmt::format("queue ring of {} bytes is too large", capacity));
    capacity = std::bit_ceil(std::max(capacity, min_ring_capacity));
    if (maxsize > static_cast<std::uint64_t>(INT64_MAX)) maxsize = 0;
    auto ref = shared_ref<queue_shared>::make(capacity, item_type, capacity, maxsize, kind);
    auto ep = std::make_shared<queue_endpoint>(std::move(ref), kind, item_type);
    std::lock_guard g(m_);
    prune_locked();
    map_[ep->name()] = ep;
    return ep;
  }

  /// This process's endpoint of the queue in segment `name`, mapping it if
  /// needed. ProcessError if it is not a queue of this kind and item type.
  std::shared_ptr<queue_endpoint> attach(const std::string& name, queue_kind kind,
                                         std::uint64_t item_type) {
    {
      std::lock_guard g(m_);
      auto it = map_.find(name);
      if (it != map_.end()) {
        if (auto ep = it->second.lock()) {
          if (ep->kind() != kind || ep->item_type() != item_type)
            throw ProcessError(
                fmt::format("'{}' is another kind of queue or holds another item type", name));
          ep->check();
          return ep;
        }
      }
    }
    auto ep = std::make_shared<queue_endpoint>(shared_ref<queue_shared>::attach(name), kind,
                                               item_type);
    std::lock_guard g(m_);
    auto& slot = map_[name];
    if (auto existing = slot.lock()) return existing;  // another thread attached first
    slot = ep;
    return ep;
  }

 private:
  queue_registry() {
    ::pthread_atfork([] { get().before_fork(); }, [] { get().after_fork_in_parent(); },
                     [] { get().after_fork_in_child(); });
    process_state::get().add_exit_hook(&flush_all);
  }

  static void flush_all() noexcept {
    std::vector<std::shared_ptr<queue_endpoint>> eps;
    try {
      queue_registry& r = get();
      std::lock_guard g(r.m_);
      for (auto& [name, w] : r.map_)
        if (auto ep = w.lock()) eps.push_back(std::move(ep));
    } catch (...) {  // out of memory at exit: nothing better to do
    }
    for (auto& ep : eps) ep->flush_at_exit();
    eps.clear();
    // A feeder past its loop is at most a munmap and an unlink from its end.
    const deadline dl = deadline::after(std::chrono::seconds(2));
    for (;;) {
      const std::uint32_t n = feeders_leaving().load(std::memory_order_acquire);
      if (n == 0 || !futex_wait_until(feeders_leaving(), n, dl)) break;
    }
  }

  void prune_locked() {
    std::erase_if(map_, [](const auto& kv) { return kv.second.expired(); });
  }

  void before_fork() {
    m_.lock();
    held_.clear();
    for (auto& [name, w] : map_)
      if (auto ep = w.lock()) {
        ep->lock_for_fork();
        held_.push_back(std::move(ep));
      }
  }
  void after_fork_in_parent() {
    auto held = std::move(held_);
    for (auto& ep : held) ep->unlock_after_fork_in_parent();
    m_.unlock();
  }
  void after_fork_in_child() {
    feeders_leaving().store(0, std::memory_order_relaxed);  // their threads are not here
    auto held = std::move(held_);
    for (auto& ep : held) ep->reset_after_fork_in_child();
    m_.unlock();
  }

  std::mutex m_;
  std::map<std::string, std::weak_ptr<queue_endpoint>, std::less<>> map_;
  std::vector<std::shared_ptr<queue_endpoint>> held_;  // locked across a fork
};

}  // namespace multiprocessing::detail
