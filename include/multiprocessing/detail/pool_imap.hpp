#pragma once
// The shared state behind imap / imap_unordered: chunk results as they come,
// handed out item by item in input order or in completion order. A failed
// chunk raises its exception once, where its first item would have been, and
// iteration goes on with the next chunk.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "../exceptions.hpp"
#include "archive.hpp"
#include "deadline.hpp"
#include "pool_error.hpp"
#include "pool_job.hpp"
#include "pool_result.hpp"

namespace multiprocessing::detail {

template <class R>
class imap_state final : public job_sink {
 public:
  using item_t = stored_t<R>;

  imap_state(std::size_t items, std::size_t chunksize, bool ordered, bool rebuild_errors = false)
      : rebuild_(rebuild_errors), ordered_(ordered), chunksize_(chunksize == 0 ? 1 : chunksize), items_(items),
        chunks_((items + chunksize_ - 1) / chunksize_) {}

  std::size_t chunks() const noexcept { return chunks_.size(); }
  std::size_t chunk_begin(std::size_t c) const noexcept { return c * chunksize_; }
  std::size_t chunk_size(std::size_t c) const noexcept {
    return std::min(chunksize_, items_ - c * chunksize_);
  }

  void done_bytes(std::size_t c, reader& r) override {
    std::vector<std::optional<item_t>> values(chunk_size(c));
    for (auto& v : values) {
      if constexpr (std::is_void_v<R>)
        v.emplace();
      else
        v.emplace(detail::load<R>(r));
    }
    r.expect_end();
    store(c, std::move(values), nullptr);
  }
  template <class V>
  void done_values(std::size_t c, V&& vals) {
    std::vector<std::optional<item_t>> values(chunk_size(c));
    if constexpr (std::is_void_v<R>) {
      for (auto& v : values) v.emplace();
    } else {
      for (std::size_t i = 0; i < values.size(); ++i) values[i].emplace(std::move(vals[i]));
    }
    store(c, std::move(values), nullptr);
  }
  void fail(std::size_t c, std::exception_ptr e) noexcept override {
    try {
      store(c, {}, e);
    } catch (...) {  // out of memory while storing: the waiter would hang; nothing better to do
    }
  }

  /// The next item; nullopt at the end. Rethrows a failed chunk's exception;
  /// TimeoutError when the deadline passes first.
  std::optional<item_t> next(const deadline& dl) {
    std::unique_lock l(m_);
    for (;;) {
      if (cur_ == npos) {
        if (taken_ == chunks_.size()) return std::nullopt;
        auto have = [&] { return ordered_ ? chunks_[taken_].done : !finished_.empty(); };
        if (dl.is_never())
          cv_.wait(l, have);
        else if (!cv_.wait_until(l, dl.time(), have))
          throw TimeoutError();
        if (ordered_) {
          cur_ = taken_;
        } else {
          cur_ = finished_.front();
          finished_.pop_front();
        }
        ++taken_;
        item_ = 0;
        if (chunks_[cur_].error) {
          auto e = chunks_[cur_].error.get();
          chunks_[cur_].error = error_holder();
          cur_ = npos;
          std::rethrow_exception(e);
        }
      }
      auto& vals = chunks_[cur_].values;
      if (item_ < vals.size()) {
        item_t v = std::move(*vals[item_]);
        vals[item_].reset();
        ++item_;
        return v;
      }
      std::vector<std::optional<item_t>>().swap(vals);
      cur_ = npos;
    }
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  struct chunk {
    std::vector<std::optional<item_t>> values;
    error_holder error;
    bool done = false;
  };

  void store(std::size_t c, std::vector<std::optional<item_t>> values, std::exception_ptr e) {
    {
      std::lock_guard g(m_);
      if (chunks_[c].done) return;
      chunks_[c].values = std::move(values);
      chunks_[c].error = error_holder(rebuild_);
      if (e) chunks_[c].error.set(e);
      chunks_[c].done = true;
      finished_.push_back(c);
    }
    cv_.notify_all();
  }

  std::mutex m_;
  std::condition_variable cv_;
  bool rebuild_;
  bool ordered_;
  std::size_t chunksize_;
  std::size_t items_;
  std::vector<chunk> chunks_;
  std::deque<std::size_t> finished_;  // completion order (imap_unordered)
  std::size_t taken_ = 0;             // chunks handed out
  std::size_t cur_ = npos;            // chunk being handed out
  std::size_t item_ = 0;              // next item in it
};

}  // namespace multiprocessing::detail
