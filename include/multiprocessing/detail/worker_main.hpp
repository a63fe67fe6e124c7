#pragma once
// The loop a pool worker runs in its own process (Python's pool.worker):
// run the initializer, say "ready", then read jobs, run each, and write its
// result before the next one starts, so that the parent always knows which
// job a dead worker was running. Ends at the stop job, at end of file, or
// after maxtasks jobs; the caller leaves with _exit.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "archive.hpp"
#include "exception_transfer.hpp"
#include "pool_wire.hpp"
#include "posix/io.hpp"
#include "posix/worker_signals.hpp"
#include "task.hpp"

namespace multiprocessing::detail {

struct worker_config {
  int fd = -1;                              // this worker's end of its socket
  std::span<const std::byte> init_job;      // a whole job frame, or empty
  std::optional<std::uint64_t> maxtasks;    // jobs before the worker retires
};

/// Runs one job frame's payload ([entry id][input]) into out as a result frame.
inline void run_job(std::span<const std::byte> job, std::vector<std::byte>& out) {
  out.clear();
  writer w(out);
  w.put(std::uint32_t{0});
  w.put(worker_status::ok);
  try {
    reader r(job);
    auto id = r.get<std::uint64_t>();
    run_task(id, r, w);
  } catch (...) {
    out.resize(4);
    w.put(worker_status::error);
    try {
      save_exception(w, std::current_exception());
    } catch (...) {  // the exception could not be written (out of memory): say so plainly
      out.resize(5);
      save_foreign(w, "std::bad_alloc", "the task's exception could not be sent");
    }
  }
  auto len = static_cast<std::uint32_t>(out.size() - 4);
  std::memcpy(out.data(), &len, 4);
}

/// The worker's life; returns its exit code.
inline int worker_main(const worker_config& cfg) noexcept {
  posix::ignore_signal(SIGINT);
  std::vector<std::byte> out;
  out.reserve(4096);
  if (!cfg.init_job.empty()) {
    run_job(cfg.init_job.subspan(4), out);
    if (static_cast<worker_status>(out[4]) != worker_status::ok) {
      // Python prints the initializer's traceback and the worker dies.
      try {
        reader r(std::span<const std::byte>(out).subspan(5));
        std::rethrow_exception(load_exception(r));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "pool worker %d: initializer failed: %s: %s\n",
                     static_cast<int>(::getpid()), current_exception_type_name().c_str(),
                     e.what());
      } catch (...) {
      }
      return 1;
    }
  }
  {
    const std::byte ready[5] = {std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0},
                                std::byte{static_cast<unsigned char>(worker_status::ready)}};
    if (send_all(cfg.fd, ready) != 0) return 0;
  }
  frame_buffer in;
  std::uint64_t done = 0;
  for (;;) {
    while (auto frame = in.next()) {
      if (frame->size() >= 8) {
        std::uint64_t id;
        std::memcpy(&id, frame->data(), 8);
        if (id == stop_entry) return 0;
      }
      run_job(*frame, out);
      if (send_all(cfg.fd, out) != 0) return 0;  // the pool is gone
      if (out.capacity() > (std::size_t{1} << 24)) std::vector<std::byte>().swap(out);
      if (cfg.maxtasks && ++done >= *cfg.maxtasks) return 0;
    }
    if (in.fill(cfg.fd) <= 0) return 0;
  }
}

}  // namespace multiprocessing::detail
