#pragma once
// One unit of work of a pool: a call, or a chunk of map items. Its outcome
// goes to a job_sink, the shared state behind an AsyncResult, a Future or an
// imap iterator; `index` tells the sink which chunk it was.

#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "archive.hpp"

namespace multiprocessing::detail {

class job_sink {
 public:
  virtual ~job_sink() = default;
  /// The job is about to reach a worker; false drops it (a cancelled future).
  virtual bool start(std::size_t /*index*/) noexcept { return true; }
  /// The worker's output bytes for chunk `index`; throws if they do not decode.
  virtual void done_bytes(std::size_t index, reader& r) = 0;
  /// The job failed; never throws.
  virtual void fail(std::size_t index, std::exception_ptr e) noexcept = 0;
  /// The job was withdrawn before it ran (shutdown(cancel_futures), terminate).
  virtual void cancel(std::size_t index, std::exception_ptr why) noexcept { fail(index, why); }
};

/// A job's bytes: short ones (a call's frame) inside the job itself, so a
/// call costs no allocation of its own; longer ones (map chunks) on the heap.
class job_frame {
 public:
  job_frame() = default;
  explicit job_frame(std::vector<std::byte>&& v) { assign(std::move(v)); }

  void assign(std::span<const std::byte> b) {
    if (b.size() <= inline_bytes) {
      if (!b.empty()) std::memcpy(small_, b.data(), b.size());
      std::vector<std::byte>().swap(heap_);
    } else {
      heap_.assign(b.begin(), b.end());
    }
    size_ = b.size();
  }
  void assign(std::vector<std::byte>&& v) {
    if (v.size() <= inline_bytes) return assign(std::span<const std::byte>(v));
    size_ = v.size();
    heap_ = std::move(v);
  }
  const std::byte* data() const noexcept { return size_ <= inline_bytes ? small_ : heap_.data(); }
  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::size_t inline_bytes = 48;
  std::vector<std::byte> heap_;
  std::size_t size_ = 0;
  alignas(8) std::byte small_[inline_bytes];
};

/// A job of a process pool: its frame (pool_entries.hpp) and where the
/// outcome goes. The sink lives at least as long as the job: a job is always
/// held by a process_job_ptr that also owns its sink (make_process_job, or
/// the sink's own embedded job, see apply_state).
struct process_job {
  job_frame frame;
  job_sink* sink = nullptr;
  std::size_t index = 0;
};
using process_job_ptr = std::shared_ptr<process_job>;

/// A job that keeps its sink alive: one allocation for both the job and the reference.
template <class Sink, class Bytes>
process_job_ptr make_process_job(std::shared_ptr<Sink> sink, Bytes&& frame, std::size_t index) {
  struct holder {
    process_job job;
    std::shared_ptr<Sink> owner;
  };
  auto h = std::make_shared<holder>();
  h->job.frame.assign(std::forward<Bytes>(frame));
  h->job.sink = sink.get();
  h->job.index = index;
  h->owner = std::move(sink);
  return process_job_ptr(h, &h->job);
}

/// A job of a thread pool: runs on a worker thread and reports to its sink itself.
struct thread_job {
  std::function<void()> run;
  std::shared_ptr<job_sink> sink;
  std::size_t index = 0;
};

}  // namespace multiprocessing::detail
