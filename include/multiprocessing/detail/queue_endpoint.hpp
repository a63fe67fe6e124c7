#pragma once
// One process's end of one queue: the mapped ring plus what Python keeps
// per process in a Queue object -- the closed flag, the local buffer and the
// feeder thread. Every handle to the queue in this process shares it (see
// queue_registry.hpp).
//
// put() writes straight into the ring when there is room and nothing of
// this process is still buffered. Otherwise (the ring is full, the message
// is larger than the room, or another writer holds the put lock for long)
// the bytes go to the local buffer and a feeder thread writes them, waiting
// for consumers as long as it takes -- so put() never waits for a consumer.
// The feeder ends when the buffer is empty; the process waits for it at exit
// unless cancel_join_thread() was called.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../exceptions.hpp"
#include "arena.hpp"
#include "deadline.hpp"
#include "posix/futex.hpp"
#include "queue_get_side.hpp"
#include "queue_layout.hpp"
#include "queue_put_side.hpp"
#include "queue_ring.hpp"
#include "queue_wait.hpp"
#include "robust_mutex.hpp"

namespace multiprocessing::detail {

/// Feeder threads that have left their loop but may still be dropping the
/// last reference to their endpoint (which unmaps and unlinks its segment):
/// the exit hook waits for them so that the process does not end midway.
inline std::atomic<std::uint32_t>& feeders_leaving() noexcept {
  static std::atomic<std::uint32_t> n{0};
  return n;
}

class queue_endpoint : public std::enable_shared_from_this<queue_endpoint> {
 public:
  queue_endpoint(shared_ref<queue_shared> ref, queue_kind kind, std::uint64_t item_type)
      : ref_(std::move(ref)), ring_(ref_, kind, item_type), kind_(kind), item_type_(item_type) {}
  queue_endpoint(const queue_endpoint&) = delete;
  queue_endpoint& operator=(const queue_endpoint&) = delete;
  ~queue_endpoint() {
    // The feeder holds a reference while it runs, so it has finished its
    // loop; if it dropped the last reference, this runs on it.
    if (feeder_ && feeder_->joinable()) {
      if (feeder_->get_id() == std::this_thread::get_id())
        feeder_->detach();
      else
        feeder_->join();
    }
  }

  const std::string& name() const noexcept { return ref_.name(); }
  queue_kind kind() const noexcept { return kind_; }
  std::uint64_t item_type() const noexcept { return item_type_; }
  std::uint64_t maxsize() const noexcept { return ring_.maxsize(); }
  /// ProcessError if the ring's header is corrupt.
  void check() const { ring_.check(); }

  /// Queue::put. `owned`, if given, holds the same bytes and may be moved
  /// into the buffer. Throws Full at the deadline (bounded queues only).
  void put(std::span<const std::byte> bytes, std::vector<std::byte>* owned, const deadline& dl) {
    check_open("put to");
    ring_.check();
    queue_shared& s = ring_.shared();
    const bool bounded = ring_.maxsize() != 0;
    const commit_effects fx{bounded, false, kind_ == queue_kind::joinable};
    bool waited = false;
    for (;;) {
      if (bounded && !flag_wait(s.space_flag, dl, [&] { return slot_free(); })) throw Full();
      if (pending_.load(std::memory_order_acquire) == 0) {
        const put_result r = try_direct(bytes, fx);
        if (r == put_result::done) return;
        if (r == put_result::no_slot) continue;
        if (!waited && r == put_result::no_space) {
          // Give a consumer that is draining the ring a moment before
          // handing the message to a feeder thread.
          waited = true;
          if (wait_for_room(bytes.size(), dl)) continue;
        }
      }
      if (bounded && !reserve_slot()) continue;
      buffer(bytes, owned);
      return;
    }
  }

  /// SimpleQueue::put: writes under the put lock, waiting for room.
  void put_blocking(std::span<const std::byte> bytes) {
    check_open("put to");
    write_locked(bytes, commit_effects{});
  }

  /// Queue::get / SimpleQueue::get: returns decode(the next message's
  /// bytes). Throws Empty at the deadline.
  template <class Decode>
  auto get(const deadline& dl, Decode&& decode) {
    check_open("get from");
    ring_.check();
    queue_shared& s = ring_.shared();
    get_side g(ring_);
    const std::uint32_t me = lock_owner_id();
    for (;;) {
      if (!flag_wait(s.data_flag, dl, [&] { return g.has_data(); })) throw Empty();
      if (!s.get_lock.lock(me, dl)) throw Empty();
      unlock_on_exit guard{s.get_lock};
      ring_.check();
      if (auto v = g.take(decode)) return std::move(*v);
    }
  }

  std::size_t qsize() const noexcept {
    const queue_shared& s = ring_.shared();
    std::int64_t n;
    if (ring_.maxsize() != 0) {
      n = s.reserved.load(std::memory_order_relaxed);
    } else {
      n = static_cast<std::int64_t>(s.put_count.load(std::memory_order_relaxed) -
                                    s.get_count.load(std::memory_order_relaxed)) +
          s.buffered.load(std::memory_order_relaxed);
    }
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  bool empty() const noexcept { return !get_side(ring_).has_data(); }
  bool full() const noexcept { return ring_.maxsize() != 0 && !slot_free(); }

  /// JoinableQueue::task_done.
  void task_done() {
    queue_shared& s = ring_.shared();
    std::int64_t v = s.unfinished.load(std::memory_order_relaxed);
    do {
      if (v <= 0) throw ValueError("task_done() called too many times");
    } while (!s.unfinished.compare_exchange_weak(v, v - 1, std::memory_order_seq_cst,
                                                 std::memory_order_relaxed));
    if (v == 1) flag_wake(s.join_flag);
  }
  /// JoinableQueue::join.
  void join() {
    queue_shared& s = ring_.shared();
    flag_wait(s.join_flag, deadline::never(),
              [&] { return s.unfinished.load(std::memory_order_seq_cst) <= 0; });
  }

  void close() noexcept { closed_.store(true, std::memory_order_release); }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  /// Waits until this process's buffered items are in the ring.
  void join_thread() {
    if (!closed()) throw ValueError("Queue::join_thread() called before close()");
    if (!join_cancelled_.load(std::memory_order_acquire)) drain();
  }
  void cancel_join_thread() noexcept { join_cancelled_.store(true, std::memory_order_release); }

  /// At process exit: what join_thread() does, unless cancelled.
  void flush_at_exit() noexcept {
    if (join_cancelled_.load(std::memory_order_acquire)) return;
    try {
      drain();
    } catch (...) {  // at exit there is no one left to report to
    }
  }

  // Fork: the registry locks every endpoint before fork; the child starts
  // with an empty buffer, no feeder and an open queue (Python's _after_fork).
  void lock_for_fork() { m_.lock(); }
  void unlock_after_fork_in_parent() { m_.unlock(); }
  void reset_after_fork_in_child() {
    buffer_.clear();
    pending_.store(0, std::memory_order_relaxed);
    (void)feeder_.release();  // its thread does not exist here; never join or destroy it
    feeder_running_ = false;
    closed_.store(false, std::memory_order_relaxed);
    join_cancelled_.store(false, std::memory_order_relaxed);
    m_.unlock();
  }

 private:
  struct unlock_on_exit {
    robust_mutex& m;
    ~unlock_on_exit() { m.unlock(); }
  };

  void check_open(const char* what) const {
    if (closed()) throw ValueError(fmt::format("cannot {} a closed queue", what));
  }

  bool slot_free() const noexcept {
    return ring_.shared().reserved.load(std::memory_order_seq_cst) <
           static_cast<std::int64_t>(ring_.maxsize());
  }
  bool reserve_slot() noexcept {
    auto& reserved = ring_.shared().reserved;
    std::int64_t v = reserved.load(std::memory_order_relaxed);
    do {
      if (v >= static_cast<std::int64_t>(ring_.maxsize())) return false;
    } while (!reserved.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst,
                                             std::memory_order_relaxed));
    return true;
  }

  put_result try_direct(std::span<const std::byte> bytes, commit_effects fx) {
    queue_shared& s = ring_.shared();
    // A feeder may hold the lock while it waits for room for a big message:
    // give up soon and buffer rather than wait for a consumer.
    const std::uint32_t me = lock_owner_id();
    if (!s.put_lock.try_lock(me) &&
        !s.put_lock.lock_slow(me, deadline::after(std::chrono::milliseconds(1))))
      return put_result::no_space;
    unlock_on_exit guard{s.put_lock};
    ring_.check();
    return put_side(ring_).try_put(bytes, fx);
  }

  // Waits up to a millisecond (never past dl) for room for n bytes; false
  // if it is not worth waiting (the message can never fit at once).
  bool wait_for_room(std::size_t n, const deadline& dl) {
    const std::uint64_t cap = ring_.capacity();
    std::uint64_t want = record_bytes(n);
    if (want > ring_.whole_max()) {
      if (ring_.maxsize() != 0 || n + (n >> 4) + 4096 > cap / 2) return false;
      want = n + (n >> 4) + 4096;
    } else {
      want = std::min(cap, 2 * want);
    }
    const deadline soon = deadline::after(std::chrono::milliseconds(1));
    const deadline& d = (!dl.is_never() && dl.time() < soon.time()) ? dl : soon;
    queue_shared& s = ring_.shared();
    return flag_wait(s.space_flag, d, [&] {
      const std::uint64_t used =
          s.tail.load(std::memory_order_relaxed) - s.head.load(std::memory_order_seq_cst);
      return used <= cap && cap - used >= want;
    });
  }

  void write_locked(std::span<const std::byte> bytes, commit_effects fx) {
    ring_.check();
    queue_shared& s = ring_.shared();
    s.put_lock.lock(lock_owner_id(), deadline::never());
    unlock_on_exit guard{s.put_lock};
    ring_.check();
    put_side(ring_).put_blocking(bytes, fx);
  }

  // Hands a message to the feeder. Its slot (bounded) is already reserved.
  void buffer(std::span<const std::byte> bytes, std::vector<std::byte>* owned) {
    queue_shared& s = ring_.shared();
    std::vector<std::byte> item =
        owned != nullptr ? std::move(*owned) : std::vector<std::byte>(bytes.begin(), bytes.end());
    const bool joinable = kind_ == queue_kind::joinable;
    std::lock_guard g(m_);
    s.buffered.fetch_add(1, std::memory_order_relaxed);
    if (joinable) s.unfinished.fetch_add(1, std::memory_order_relaxed);
    buffer_.push_back(std::move(item));
    pending_.fetch_add(1, std::memory_order_relaxed);
    try {
      start_feeder_locked();
    } catch (const std::system_error& e) {
      buffer_.pop_back();
      pending_.fetch_sub(1, std::memory_order_relaxed);
      s.buffered.fetch_sub(1, std::memory_order_relaxed);
      if (joinable) s.unfinished.fetch_sub(1, std::memory_order_relaxed);
      if (ring_.maxsize() != 0) s.reserved.fetch_sub(1, std::memory_order_seq_cst);
      throw OSError("pthread_create", e.code(), "a queue feeder thread");
    }
  }

  void start_feeder_locked() {
    if (feeder_running_) return;
    if (feeder_) {  // the previous one has left its loop; it only needs reaping
      feeder_->join();
      feeder_.reset();
    }
    feeder_ = std::make_unique<std::thread>([self = shared_from_this()]() mutable {
      self->feed();
      self.reset();
      if (feeders_leaving().fetch_sub(1, std::memory_order_acq_rel) == 1)
        posix::futex_wake(&feeders_leaving(), INT_MAX);
    });
    feeder_running_ = true;
  }

  void feed() noexcept {
    for (;;) {
      std::vector<std::byte> item;
      {
        std::lock_guard g(m_);
        if (buffer_.empty()) {
          feeder_running_ = false;
          feeders_leaving().fetch_add(1, std::memory_order_relaxed);
          return;
        }
        item = std::move(buffer_.front());
        buffer_.pop_front();
      }
      try {
        write_locked(item, commit_effects{false, true, false});
      } catch (const std::exception& e) {
        // Python's feeder prints the error and goes on with the next item.
        ring_.shared().buffered.fetch_sub(1, std::memory_order_relaxed);
        std::fprintf(stderr, "multiprocessing: queue feeder thread dropped a message: %s\n",
                     e.what());
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
        posix::futex_wake(&pending_, INT_MAX);
    }
  }

  // Waits until the feeder has written everything and reaps it.
  void drain() {
    for (;;) {
      const std::uint32_t p = pending_.load(std::memory_order_acquire);
      if (p == 0) break;
      posix::futex_wait(&pending_, p, nullptr);
    }
    std::unique_ptr<std::thread> t;
    {
      std::lock_guard g(m_);
      if (!feeder_ || feeder_->get_id() == std::this_thread::get_id()) return;
      t = std::move(feeder_);
    }
    t->join();  // it is leaving its loop (or a new one took over: it drains too)
  }

  shared_ref<queue_shared> ref_;
  ring_view ring_;
  queue_kind kind_;
  std::uint64_t item_type_;

  std::mutex m_;  // buffer_, feeder_, feeder_running_
  std::deque<std::vector<std::byte>> buffer_;
  std::atomic<std::uint32_t> pending_{0};  // buffered + being written; a futex word
  bool feeder_running_ = false;
  std::unique_ptr<std::thread> feeder_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> join_cancelled_{false};
};

}  // namespace multiprocessing::detail
