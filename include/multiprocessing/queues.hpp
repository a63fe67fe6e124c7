#pragma once
/// Python's multiprocessing.queues: Queue, SimpleQueue and JoinableQueue,
/// shared between processes.
///
/// Each is a copyable handle: the constructor creates a new queue in its own
/// shared-memory segment, and every copy (in this process, a forked child,
/// or a process it was transferred to) refers to that same queue. Items are
/// any Transferable T; a message is the item's bytes in a ring in shared
/// memory, so a put and a get that find room and data make no system call.
///
/// As in Python, an item is delivered once, to one consumer, in the order
/// its producer put it. Queue::put never waits for a consumer: when the ring
/// is full, the item waits in this process's buffer and a feeder thread
/// moves it into the ring; a process waits for its feeder when it ends (at
/// the end of a Process target, exit() or the end of main) unless it called
/// cancel_join_thread(). A message larger than the ring goes in pieces.
///
/// Crashes: a process killed in the middle of a put or a get (SIGKILL) does
/// not block the others: the locks it held are taken over once it is found
/// dead (within about a quarter second), and at most the message it was
/// moving is lost -- a put that had not finished publishing it, or a get
/// that had not finished reading a message sent in pieces (a get killed
/// while reading a one-piece message leaves it for the next consumer).
/// Items still in a killed process's feeder buffer are lost too (as in
/// Python), and then qsize() counts them, and on a bounded queue they keep
/// their slots, until the queue is gone. A corrupt ring (bad magic,
/// impossible lengths) is a ProcessError, never a crash or an endless wait.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "detail/deadline.hpp"
#include "detail/handle_access.hpp"
#include "detail/queue_codec.hpp"
#include "detail/queue_endpoint.hpp"
#include "detail/queue_layout.hpp"
#include "detail/queue_registry.hpp"
#include "detail/type_name.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"

namespace multiprocessing {

namespace detail {
/// Not part of the API: the ring size of a new queue (tests use small rings).
struct queue_options {
  std::size_t ring_bytes = 0;  // 0: the default (1 MiB); rounded up to a power of two
};
}  // namespace detail

/// A multi-producer, multi-consumer FIFO queue (Python: multiprocessing.Queue).
template <Transferable T>
class Queue {
 public:
  using value_type = T;

  /// Creates a queue holding at most `maxsize` items (0: unbounded). Throws
  /// OSError if no shared segment can be made.
  explicit Queue(std::size_t maxsize = 0) : Queue(maxsize, detail::queue_options{}) {}
  Queue(std::size_t maxsize, detail::queue_options opts)
      : Queue(maxsize, detail::queue_kind::queue, opts) {}

  /// Puts v, blocking while a bounded queue is full. Throws ValueError after close().
  void put(const T& v) { put_until(v, detail::deadline::never()); }
  /// Puts v, blocking at most `timeout` while a bounded queue is full; then throws Full.
  template <class Rep, class Period>
  void put(const T& v, std::chrono::duration<Rep, Period> timeout) {
    put_until(v, detail::deadline::after(timeout));
  }
  /// Puts v if a bounded queue has a free slot now; else throws Full.
  void put_nowait(const T& v) { put_until(v, detail::deadline::after(std::chrono::seconds(0))); }

  /// Removes and returns the next item, blocking until there is one. Throws
  /// ValueError after close(), UnpicklingError if the message does not decode.
  T get() { return get_until(detail::deadline::never()); }
  /// As get(), blocking at most `timeout`; then throws Empty.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_until(detail::deadline::after(timeout));
  }
  /// Returns the next item if there is one now; else throws Empty.
  T get_nowait() { return get_until(detail::deadline::after(std::chrono::seconds(0))); }

  /// Items put and not yet got, including those still in feeder buffers (a snapshot).
  std::size_t qsize() const noexcept { return ref_->qsize(); }
  /// Whether no message is in the ring (a snapshot; buffered items do not count).
  bool empty() const noexcept { return ref_->empty(); }
  /// Whether a bounded queue holds maxsize items (a snapshot).
  bool full() const noexcept { return ref_->full(); }

  /// This process will put no more: later put() and get() throw ValueError;
  /// buffered items still go into the ring. Affects every handle in this process.
  void close() noexcept { ref_->close(); }
  /// Blocks until this process's buffered items are in the ring. Throws
  /// ValueError before close().
  void join_thread() { ref_->join_thread(); }
  /// Lets this process end without waiting for its buffered items (they may be lost).
  void cancel_join_thread() noexcept { ref_->cancel_join_thread(); }

  /// Same queue.
  friend bool operator==(const Queue& a, const Queue& b) noexcept { return a.ref_ == b.ref_; }

 protected:
  Queue(std::size_t maxsize, detail::queue_kind kind, detail::queue_options opts)
      : ref_(detail::queue_registry::get().create(maxsize, kind, detail::type_hash<T>(),
                                                 opts.ring_bytes)) {}
  Queue(detail::attach_tag, std::shared_ptr<detail::queue_endpoint> ep) : ref_(std::move(ep)) {}

  std::shared_ptr<detail::queue_endpoint> ref_;

 private:
  friend struct detail::handle_access;
  void put_until(const T& v, const detail::deadline& dl) {
    detail::queue_codec<T>::with_bytes(v, [&](std::span<const std::byte> bytes,
                                              std::vector<std::byte>* owned) {
      ref_->put(bytes, owned, dl);
    });
  }
  T get_until(const detail::deadline& dl) {
    return ref_->get(dl, [](std::span<const std::byte> b) { return detail::queue_codec<T>::decode(b); });
  }
};

/// A Queue whose consumers report each item done, so that a producer can
/// wait for all of them (Python: multiprocessing.JoinableQueue).
template <Transferable T>
class JoinableQueue : public Queue<T> {
 public:
  /// Creates a queue holding at most `maxsize` items (0: unbounded).
  explicit JoinableQueue(std::size_t maxsize = 0) : JoinableQueue(maxsize, detail::queue_options{}) {}
  JoinableQueue(std::size_t maxsize, detail::queue_options opts)
      : Queue<T>(maxsize, detail::queue_kind::joinable, opts) {}

  /// Marks one item got earlier as done. Throws ValueError if called more
  /// times than items were put.
  void task_done() { this->ref_->task_done(); }
  /// Blocks until every item put has been marked done.
  void join() { this->ref_->join(); }

 private:
  friend struct detail::handle_access;
  JoinableQueue(detail::attach_tag tag, std::shared_ptr<detail::queue_endpoint> ep)
      : Queue<T>(tag, std::move(ep)) {}
};

/// A simpler queue without a size limit or feeder thread: put writes into
/// the ring itself, waiting for room if it is full (Python:
/// multiprocessing.SimpleQueue).
template <Transferable T>
class SimpleQueue {
 public:
  using value_type = T;

  /// Creates an empty queue. Throws OSError if no shared segment can be made.
  SimpleQueue() : SimpleQueue(detail::queue_options{}) {}
  explicit SimpleQueue(detail::queue_options opts)
      : ref_(detail::queue_registry::get().create(0, detail::queue_kind::simple,
                                                 detail::type_hash<T>(), opts.ring_bytes)) {}

  /// Puts v, blocking while the ring has no room for it. Throws OSError after close().
  void put(const T& v) {
    check_open("put");
    detail::queue_codec<T>::with_bytes(
        v, [&](std::span<const std::byte> bytes, std::vector<std::byte>*) { ref_->put_blocking(bytes); });
  }
  /// Removes and returns the next item, blocking until there is one. Throws
  /// OSError after close(), UnpicklingError if the message does not decode.
  T get() {
    check_open("get");
    return ref_->get(detail::deadline::never(),
                    [](std::span<const std::byte> b) { return detail::queue_codec<T>::decode(b); });
  }
  /// Whether the queue holds no message (a snapshot).
  bool empty() const noexcept { return ref_->empty(); }
  /// This process will use the queue no more: put() and get() throw OSError.
  void close() noexcept { ref_->close(); }

  /// Same queue.
  friend bool operator==(const SimpleQueue& a, const SimpleQueue& b) noexcept {
    return a.ref_ == b.ref_;
  }

 private:
  friend struct detail::handle_access;
  SimpleQueue(detail::attach_tag, std::shared_ptr<detail::queue_endpoint> ep) : ref_(std::move(ep)) {}
  void check_open(const char* call) const {
    // Python's SimpleQueue raises OSError("handle is closed") here.
    if (ref_->closed())
      throw OSError(call, std::make_error_code(std::errc::bad_file_descriptor), "a closed SimpleQueue");
  }

  std::shared_ptr<detail::queue_endpoint> ref_;
};

}  // namespace multiprocessing

// Last, so that it sees the classes above: makes each handle Transferable.
#include "detail/queue_transfer.hpp"
