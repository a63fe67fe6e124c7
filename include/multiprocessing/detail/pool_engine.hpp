#pragma once
// The process pool under Pool and ProcessPoolExecutor (DESIGN.md §6).
//
// Each worker has its own socket, so the parent knows which jobs each one
// holds, in order. Two threads in the parent:
//  - the sender hands queued jobs to workers, several per write when they
//    are short, at most `cap` per worker so a long job does not hold others
//    back (cap adapts to the measured job duration);
//  - the receiver waits on every worker's socket and sentinel, delivers
//    results (callbacks run there, as in Python's result handler thread), and
//    on a worker's death fails exactly the job it was running with
//    WorkerLostError, requeues the ones it had not started, and starts a
//    replacement. They are two threads because writes block: a sender stuck
//    on a full socket must not stop results from being read.
// Workers that die before they are ready (a failing initializer) are
// counted; past the restart limit the pool is broken instead of spinning.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../connection.hpp"
#include "../exceptions.hpp"
#include "exception_transfer.hpp"
#include "pool_job.hpp"
#include "pool_wire.hpp"
#include "popen.hpp"
#include "popen_fork.hpp"
#include "posix/io.hpp"
#include "posix/worker_signals.hpp"
#include "process_state.hpp"
#include "worker_main.hpp"

namespace multiprocessing::detail {

struct engine_options {
  int processes = 1;
  std::optional<std::uint64_t> maxtasks;
  std::vector<std::byte> init_job;  // a job frame run once by each worker, or empty
  bool break_on_death = false;      // executor: a death breaks the pool (BrokenProcessPool)
  std::string name_prefix = "ForkPoolWorker";
};

/// "was killed by signal 9 (SIGKILL)" / "exited with code 3".
inline std::string describe_exit(int code) {
  if (code < 0) return fmt::format("was killed by signal {} ({})", -code, posix::signal_name(-code));
  return fmt::format("exited with code {}", code);
}

class process_engine {
 public:
  using job_ptr = process_job_ptr;
  using clock = std::chrono::steady_clock;

  explicit process_engine(engine_options opt) : opt_(std::move(opt)) {
    if (opt_.processes < 1) throw ValueError("Number of processes must be at least 1");
    if (process_state::get().daemon())
      throw ProcessError("daemonic processes are not allowed to have children");
    if (opt_.maxtasks && *opt_.maxtasks < 1)
      throw ValueError("maxtasksperchild must be a positive int or None");
    restart_limit_ = std::max(5, 3 * opt_.processes);
    auto [r, w] = Pipe(false);
    wake_r_ = std::move(r);
    wake_w_ = std::move(w);
    try {
      // The first workers are forked before the pool's threads exist.
      for (int i = 0; i < opt_.processes; ++i) workers_.push_back(spawn_worker());
      receiver_ = std::thread([this] { receiver_loop(); });
      sender_ = std::thread([this] { sender_loop(); });
    } catch (...) {
      shutdown_now();
      throw;
    }
  }
  process_engine(const process_engine&) = delete;
  process_engine& operator=(const process_engine&) = delete;
  ~process_engine() { shutdown_now(); }

  /// Queues jobs. ValueError once closed; the pool's error once broken.
  void submit(std::vector<job_ptr> jobs) {
    bool wake;
    {
      std::lock_guard g(m_);
      check_accepting();
      for (auto& j : jobs) queue_.push_back(std::move(j));
      wake = sender_should_wake();
    }
    if (wake) sender_cv_.notify_one();
  }
  void submit(job_ptr job) {
    bool wake;
    {
      std::lock_guard g(m_);
      check_accepting();
      queue_.push_back(std::move(job));
      wake = sender_should_wake();
    }
    if (wake) sender_cv_.notify_one();
  }
  /// For map: jobs go in one by one as they are made, so workers start early.
  void submit_one_of_many(job_ptr job) { submit(std::move(job)); }

  /// No more jobs; workers leave once every queued job is done.
  void close() {
    {
      std::lock_guard g(m_);
      if (state_ == state::run) state_ = state::close;
    }
    sender_cv_.notify_all();
    wake_receiver();
  }

  /// Stops the workers now; jobs not finished fail with `why`.
  void terminate(std::exception_ptr why, int sig = SIGTERM) {
    std::vector<job_ptr> dropped;
    {
      std::lock_guard g(m_);
      if (state_ != state::terminate) {
        state_ = state::terminate;
        terminate_at_ = clock::now();
      }
      take_all_jobs(dropped);
      for (auto& w : workers_) signal(*w, sig);
    }
    for (auto& j : dropped) j->sink->cancel(j->index, why);
    sender_cv_.notify_all();
    wake_receiver();
  }

  /// Withdraws the queued jobs that no worker holds yet (cancel_futures).
  void cancel_queued(std::exception_ptr why) {
    std::deque<job_ptr> q;
    {
      std::lock_guard g(m_);
      q.swap(queue_);
    }
    for (auto& j : q) j->sink->cancel(j->index, why);
  }

  /// Sends sig to every live worker (terminate_workers, kill_workers).
  void signal_workers(int sig) {
    std::lock_guard g(m_);
    for (auto& w : workers_) signal(*w, sig);
  }

  /// Waits for the pool's threads and workers to finish. ValueError while running.
  void join() {
    {
      std::lock_guard g(m_);
      if (state_ == state::run) throw ValueError("Pool is still running");
    }
    join_threads();
  }

  bool running() const {
    std::lock_guard g(m_);
    return state_ == state::run;
  }

  /// Pids of the live workers.
  std::vector<int> pids() const {
    std::lock_guard g(m_);
    std::vector<int> out;
    for (auto& w : workers_) out.push_back(static_cast<int>(w->proc->pid()));
    return out;
  }

 private:
  enum class state { run, close, terminate };

  struct outcome {
    job_ptr job;
    std::span<const std::byte> body;
  };

  struct worker {
    int number = 0;
    std::shared_ptr<popen> proc;
    Connection conn;                 // the parent's end
    std::deque<job_ptr> inflight;    // sent, in the order the worker runs them
    std::uint64_t sent = 0;
    bool ready = false;
    bool stop_sent = false;
    bool eof = false;                // receiver only
    bool dead = false;
    clock::time_point last_event{};  // last result, or when it got work while idle
    frame_buffer in;                 // receiver only
  };
  using worker_ptr = std::shared_ptr<worker>;

  void check_accepting() const {
    if (broken_) std::rethrow_exception(broken_);
    if (state_ != state::run) throw ValueError("Pool not running");
  }

  void wake_receiver() noexcept {
    try {
      wake_w_.send_bytes(std::span<const std::byte>());
    } catch (...) {  // the pipe is full of wake-ups already: the receiver will look
    }
  }

  static void signal(worker& w, int sig) noexcept {
    try {
      w.proc->send_signal(sig);
    } catch (...) {  // already gone
    }
  }

  void take_all_jobs(std::vector<job_ptr>& out) {
    for (auto& w : workers_) {
      for (auto& j : w->inflight) out.push_back(std::move(j));
      w->inflight.clear();
    }
    for (auto& j : queue_) out.push_back(std::move(j));
    queue_.clear();
  }

  // --- workers -------------------------------------------------------------

  worker_ptr spawn_worker() {
    auto w = std::make_shared<worker>();
    auto [parent_end, child_end] = Pipe(true);
    w->conn = std::move(parent_end);
    std::vector<int> others;  // descriptors the child must not keep
    others.push_back(wake_r_.fileno());
    others.push_back(wake_w_.fileno());
    others.push_back(w->conn.fileno());
    {
      std::lock_guard g(m_);
      for (auto& o : workers_) others.push_back(o->conn.fileno());
      w->number = ++spawned_;
    }
    const int child_fd = child_end.fileno();
    worker_config cfg;
    cfg.fd = child_fd;
    cfg.init_job = std::span<const std::byte>(opt_.init_job);
    if (opt_.maxtasks) cfg.maxtasks = *opt_.maxtasks;
    fork_options fo;
    fo.name = fmt::format("{}-{}", opt_.name_prefix, w->number);
    fo.identity = process_state::get().next_child_identity();
    fo.daemon = true;  // Python's pool workers are daemonic; they die with the parent
    fo.warn_threads = false;
    w->proc = launch_fork(fo, [&]() noexcept {
      for (int fd : others) posix::unique_fd closing(fd);
      return worker_main(cfg);
    });
    child_end.close();
    process_state::get().add_child(w->proc);
    return w;
  }

  void retire(worker& w) noexcept {
    try {
      (void)w.proc->wait(std::nullopt);
    } catch (...) {  // reaped elsewhere (active_children): the code is cached anyway
    }
    process_state::get().remove_child(w.proc.get());
  }

  // --- sender --------------------------------------------------------------

  std::size_t cap() const {
    if (avg_ns_ < 0) return 2;
    constexpr double target_ns = 2e6;  // keep about 2 ms of work queued per worker
    double c = 1.0 + target_ns / std::max(avg_ns_, 1.0);
    return static_cast<std::size_t>(std::min(c, 1024.0));
  }

  // A worker gets more work once it is down to half its cap, then is filled
  // up to the cap: jobs go in batches, not one write (and one wake-up of
  // this thread) per job.
  bool eligible(const worker& w, std::size_t c) const {
    return !w.dead && !w.stop_sent && w.inflight.size() <= c / 2 &&
           (!opt_.maxtasks || w.sent < *opt_.maxtasks);
  }

  // Called with m_ held by a submitter: wakes the sender only if it sleeps
  // and some worker would take the job now; otherwise the next result wakes it.
  bool sender_should_wake() const {
    if (!sender_waiting_) return false;
    const std::size_t c = cap();
    for (auto& w : workers_)
      if (eligible(*w, c)) return true;
    return false;
  }

  void sender_loop() noexcept {
    std::unique_lock l(m_);
    std::vector<job_ptr> batch;
    std::vector<iovec> iov;
    for (;;) {
      if (state_ == state::terminate || receiver_done_) return;
      worker_ptr target;
      const std::size_t c = cap();
      if (!queue_.empty()) {
        for (auto& w : workers_)
          if (eligible(*w, c) && (!target || w->inflight.size() < target->inflight.size()))
            target = w;
      }
      if (target) {
        std::size_t eligible_count = 0;
        for (auto& w : workers_) eligible_count += eligible(*w, c) ? 1 : 0;
        std::size_t k = std::min(c - target->inflight.size(),
                                 std::max<std::size_t>(1, queue_.size() / eligible_count));
        if (opt_.maxtasks) k = std::min<std::size_t>(k, *opt_.maxtasks - target->sent);
        k = std::min<std::size_t>(k, 256);
        batch.clear();
        if (target->inflight.empty()) target->last_event = clock::now();
        while (k > 0 && !queue_.empty()) {
          job_ptr j = std::move(queue_.front());
          queue_.pop_front();
          if (!j->sink->start(j->index)) continue;  // cancelled while queued
          target->inflight.push_back(j);
          ++target->sent;
          batch.push_back(std::move(j));
          --k;
        }
        if (batch.empty()) continue;
        l.unlock();
        iov.clear();
        for (auto& j : batch) iov.push_back(iovec{const_cast<std::byte*>(j->frame.data()), j->frame.size()});
        // A failed write means the worker died: the receiver sees its sentinel.
        (void)posix::write_all(target->conn.fileno(), iov.data(), static_cast<int>(iov.size()),
                               true);
        batch.clear();
        l.lock();
        continue;
      }
      if (state_ == state::close && queue_.empty()) {
        worker_ptr stop;
        for (auto& w : workers_)
          if (!w->dead && !w->stop_sent) stop = w;
        if (stop) {
          stop->stop_sent = true;
          l.unlock();
          std::byte frame[12] = {std::byte{8}};
          (void)send_all(stop->conn.fileno(), frame);
          l.lock();
          continue;
        }
      }
      sender_waiting_ = true;
      sender_cv_.wait(l);
      sender_waiting_ = false;
    }
  }

  // --- receiver --------------------------------------------------------------

  void receiver_loop() noexcept {
    std::vector<int> fds;
    std::vector<std::pair<worker_ptr, bool>> owners;  // per fd: worker, is_sentinel
    for (;;) {
      bool no_pidfd = false;
      {
        std::lock_guard g(m_);
        if (state_ != state::run && workers_.empty()) {
          receiver_done_ = true;
          break;
        }
        fds.assign(1, wake_r_.fileno());
        owners.assign(1, {nullptr, false});
        for (auto& w : workers_) {
          if (!w->eof) {
            fds.push_back(w->conn.fileno());
            owners.emplace_back(w, false);
          }
          if (w->proc->sentinel() >= 0) {
            fds.push_back(w->proc->sentinel());
            owners.emplace_back(w, true);
          } else {
            no_pidfd = true;
          }
        }
        if (state_ == state::terminate && clock::now() - terminate_at_ > std::chrono::seconds(1))
          for (auto& w : workers_) signal(*w, SIGKILL);  // it ignored SIGTERM
      }
      std::vector<int> ready;
      try {
        if (no_pidfd || state_terminating())
          ready = connection::wait(fds, std::chrono::milliseconds(50));
        else
          ready = connection::wait(fds);
      } catch (...) {
        ready.clear();
      }
      std::vector<worker_ptr> died;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (std::find(ready.begin(), ready.end(), fds[i]) == ready.end()) continue;
        auto& [w, is_sentinel] = owners[i];
        if (!w) {
          try {
            (void)wake_r_.recv_bytes();
          } catch (...) {
          }
        } else if (is_sentinel) {
          died.push_back(w);
        } else {
          read_results(*w);
        }
      }
      if (no_pidfd) {
        std::lock_guard g(m_);
        for (auto& w : workers_)
          if (w->proc->sentinel() < 0 && w->proc->poll()) died.push_back(w);
      }
      for (auto& w : died) handle_death(w);
    }
    sender_cv_.notify_all();
  }

  bool state_terminating() {
    std::lock_guard g(m_);
    return state_ == state::terminate;
  }

  // Reads what has arrived from w and delivers every whole frame.
  void read_results(worker& w) {
    if (w.eof) return;
    ssize_t r = w.in.fill(w.conn.fileno());
    if (r <= 0) w.eof = true;  // dead or dying: its sentinel follows
    deliver_frames(w);
  }

  void deliver_frames(worker& w) {
    std::vector<outcome>& got = got_;  // receiver only: kept, not made per read
    got.clear();
    bool wake = false;
    {
      std::lock_guard g(m_);
      const auto now = clock::now();
      while (auto f = w.in.next()) {
        if (f->empty()) continue;
        auto status = static_cast<worker_status>((*f)[0]);
        if (status == worker_status::ready) {
          w.ready = true;
          unready_deaths_ = 0;
          continue;
        }
        if (w.inflight.empty()) continue;  // the pool was terminated: nobody waits
        const double sample = static_cast<double>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - w.last_event).count());
        avg_ns_ = avg_ns_ < 0 ? sample : 0.8 * avg_ns_ + 0.2 * sample;
        w.last_event = now;
        got.push_back({std::move(w.inflight.front()), *f});
        w.inflight.pop_front();
      }
      // Only this worker's load went down: the sender, if it sleeps, has
      // something to do only if this worker now takes more of the queue.
      wake = !got.empty() && sender_waiting_ && !queue_.empty() && eligible(w, cap());
    }
    if (got.empty()) return;
    if (wake) sender_cv_.notify_one();
    for (auto& o : got) {
      auto status = static_cast<worker_status>(o.body[0]);
      auto& sink = *o.job->sink;
      try {
        reader r(o.body.subspan(1));
        if (status == worker_status::ok) {
          sink.done_bytes(o.job->index, r);
        } else {
          auto e = load_exception(r);
          sink.fail(o.job->index, e ? e : std::make_exception_ptr(UnpicklingError("no exception")));
        }
      } catch (...) {
        sink.fail(o.job->index, std::current_exception());
      }
      o.job.reset();  // the last reference may be this one: free it now, not at the next read
    }
    got.clear();
  }

  void handle_death(const worker_ptr& w) {
    // What the worker wrote before it died still counts.
    while (!w->eof) {
      bool readable = false;
      try {
        readable = posix::wait_readable(w->conn.fileno(), std::chrono::nanoseconds::zero());
      } catch (...) {
      }
      if (!readable) break;
      read_results(*w);
    }
    retire(*w);
    const int code = w->proc->poll().value_or(-SIGKILL);
    std::vector<job_ptr> lost, failed, running;
    std::exception_ptr lost_error, broke;
    bool replace = false;
    {
      std::lock_guard g(m_);
      w->dead = true;
      std::erase(workers_, w);
      auto jobs = std::move(w->inflight);
      w->inflight.clear();
      const bool clean = code == 0 && jobs.empty();
      const bool terminating = state_ == state::terminate;
      if (!terminating && !clean) {
        std::string who = fmt::format("worker process {} ({})", w->proc->pid(), w->proc->name());
        if (opt_.break_on_death) {
          broke = std::make_exception_ptr(BrokenProcessPool(fmt::format(
              "A process in the process pool was terminated abruptly while the future was "
              "running or pending: {} {}",
              who, describe_exit(code))));
        } else if (!w->ready) {
          // Died before it could run anything (its initializer): nothing is lost.
          if (++unready_deaths_ >= restart_limit_)
            broke = std::make_exception_ptr(WorkerLostError(fmt::format(
                "pool workers keep dying before they are ready ({} in a row; the last {} {}): "
                "the pool is broken",
                unready_deaths_, who, describe_exit(code))));
          for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) queue_.push_front(std::move(*it));
          jobs.clear();
        } else if (!jobs.empty()) {
          lost.push_back(std::move(jobs.front()));
          lost_error = std::make_exception_ptr(WorkerLostError(
              fmt::format("{} {} while running the task", who, describe_exit(code))));
          for (auto it = jobs.rbegin(); it + 1 != jobs.rend(); ++it)
            queue_.push_front(std::move(*it));
          jobs.clear();
        }
      }
      if (broke) {
        // The jobs workers were running fail last: whoever waits on one of
        // them finds every other job of the pool failed or cancelled already.
        if (!jobs.empty()) {
          running.push_back(std::move(jobs.front()));
          jobs.pop_front();
        }
        for (auto& o : workers_)
          if (!o->inflight.empty()) {
            running.push_back(std::move(o->inflight.front()));
            o->inflight.pop_front();
          }
      }
      for (auto& j : jobs) failed.push_back(std::move(j));  // terminating: already failed
      if (broke) {
        broken_ = broke;
        take_all_jobs(failed);
        for (auto& o : workers_) signal(*o, SIGTERM);
        if (state_ == state::run) state_ = state::close;
      } else if (!terminating) {
        replace = state_ == state::run || !queue_.empty();
      }
    }
    for (auto& j : lost) j->sink->fail(j->index, lost_error);
    if (broke) {
      for (auto& j : failed) j->sink->fail(j->index, broke);
      for (auto& j : running) j->sink->fail(j->index, broke);
    }
    if (replace) {
      try {
        auto nw = spawn_worker();
        std::lock_guard g(m_);
        workers_.push_back(std::move(nw));
      } catch (...) {
        std::vector<job_ptr> all;
        auto e = std::current_exception();
        {
          std::lock_guard g(m_);
          if (workers_.empty()) {
            broken_ = e;
            take_all_jobs(all);
            if (state_ == state::run) state_ = state::close;
          }
        }
        for (auto& j : all) j->sink->fail(j->index, e);
      }
    }
    sender_cv_.notify_all();
  }

  // --- teardown ----------------------------------------------------------------

  void join_threads() {
    std::lock_guard g(join_m_);
    if (receiver_.joinable()) receiver_.join();
    {
      std::lock_guard l(m_);
      receiver_done_ = true;
    }
    sender_cv_.notify_all();
    if (sender_.joinable()) sender_.join();
  }

  void shutdown_now() noexcept {
    try {
      terminate(std::make_exception_ptr(ProcessError("the pool was terminated")));
      if (!receiver_.joinable()) {
        // Constructor failed before the threads started: reap what was forked.
        std::lock_guard g(m_);
        for (auto& w : workers_) {
          signal(*w, SIGKILL);
          retire(*w);
        }
        workers_.clear();
      }
      join_threads();
    } catch (...) {  // a destructor never throws
    }
  }

  engine_options opt_;
  int restart_limit_ = 5;
  mutable std::mutex m_;
  std::mutex join_m_;
  std::condition_variable sender_cv_;
  std::deque<job_ptr> queue_;
  std::vector<worker_ptr> workers_;
  state state_ = state::run;
  clock::time_point terminate_at_{};
  std::exception_ptr broken_;
  int unready_deaths_ = 0;
  int spawned_ = 0;
  double avg_ns_ = -1;
  bool receiver_done_ = false;
  bool sender_waiting_ = false;
  std::vector<outcome> got_;  // receiver only
  Connection wake_r_, wake_w_;
  std::thread receiver_;
  std::thread sender_;
};

}  // namespace multiprocessing::detail
