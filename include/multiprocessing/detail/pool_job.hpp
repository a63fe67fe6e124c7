#pragma once
// One unit of work of a pool: a call, or a chunk of map items. Its outcome
// goes to a job_sink, the shared state behind an AsyncResult, a Future or an
// imap iterator; `index` tells the sink which chunk it was.

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
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

/// A job of a process pool: its frame (pool_entries.hpp) and where the outcome goes.
struct process_job {
  std::vector<std::byte> frame;
  std::shared_ptr<job_sink> sink;
  std::size_t index = 0;
};

/// A job of a thread pool: runs on a worker thread and reports to its sink itself.
struct thread_job {
  std::function<void()> run;
  std::shared_ptr<job_sink> sink;
  std::size_t index = 0;
};

}  // namespace multiprocessing::detail
