#pragma once
// One manager container as seen from one process: its anchor (a small
// segment that never moves: the lock, the shutdown flag, the name of the
// current data segment) and its data segment (a store, manager_store.hpp).
//
// Every operation runs in a session, which holds the anchor's robust lock
// and, before anything else:
// - refuses if the manager has shut down (the anchor stays mapped here, so
//   this never touches unmapped memory);
// - re-maps the data segment if another process moved the container to a
//   bigger one (a generation counter in the anchor, one load to check);
// - repairs what a holder that died mid-operation left: rolls back its undo
//   log, and removes a half-made segment it was growing into.
//
// Growth: when an operation needs more free space than the store has, the
// container is compacted into a new segment of twice its live size plus the
// need; the new name goes into the anchor's spare name slot *before* the
// segment exists, the generation counter flips as the one committing store,
// and the old segment is unlinked (processes that still map it re-map on
// their next operation). A crash at any point leaves either the old or the
// new segment current, and the other one's name in the spare slot for the
// next holder to remove.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "../exceptions.hpp"
#include "deadline.hpp"
#include "manager_compact.hpp"
#include "manager_segment.hpp"
#include "manager_store.hpp"
#include "robust_mutex.hpp"

namespace multiprocessing::detail {

/// Payload bytes of a new container's data segment backed by memory at first.
inline constexpr std::uint64_t manager_initial_capacity = 16 * 1024;
/// The same for a dict or set: backing memory later, inside operations, costs
/// far more (page clearing and faults are slow in VMs) than up front, when
/// the manager makes the container. A Python manager is a whole process.
inline constexpr std::uint64_t manager_initial_table_capacity = 1024 * 1024;
/// How far past the store's end a process maps pages in ahead, at least: one
/// madvise for many pages costs a fraction of a page fault per page.
inline constexpr std::uint64_t manager_populate_ahead = 64 * 1024;
/// Address space a data segment maps: the container grows in place (backing
/// more of it, no copy) up to this, and only then moves to a new segment.
/// Costs no memory until used. A variable so that tests can make it small.
inline std::uint64_t manager_reservation = std::uint64_t{64} << 20;
inline constexpr std::uint64_t manager_page = 4096;

inline constexpr std::uint64_t round_to_page(std::uint64_t n) noexcept {
  return (n + manager_page - 1) & ~(manager_page - 1);
}

struct manager_anchor {
  robust_mutex mutex;
  std::atomic<std::uint32_t> shut_down{0};
  std::atomic<std::uint64_t> generation{0};  // data[generation & 1] is current
  std::uint64_t type = 0;                    // the proxy type's hash
  std::uint64_t shape = 0;                   // store_shape
  shared_name data[2]{};
  shared_name next{};  // the container the manager made before this one
};

/// manager_fault_hook steps inside a move to a new segment.
inline constexpr int fault_grow_named = 1001;
inline constexpr int fault_grow_filled = 1002;
inline constexpr int fault_grow_committed = 1003;

inline constexpr std::uint64_t manager_anchor_kind = 0x6d70616e63686f72ULL;  // "mpanchor"
inline constexpr std::uint64_t manager_store_kind = 0x6d7073746f726531ULL;   // "mpstore1"

/// Thrown by every operation after Manager::shutdown().
[[noreturn]] inline void throw_manager_shut_down() {
  throw ProcessError("the manager that owns this proxy has been shut down");
}

class container {
 public:
  container(const container&) = delete;
  container& operator=(const container&) = delete;

  /// Makes a new, empty container named `name`, linked to `next` (the
  /// manager's chain). Throws OSError if no segment can be made.
  /// packed_key/value: a packed table's item sizes (manager_table.hpp), or 0.
  static std::shared_ptr<container> create(const std::string& name, std::uint64_t type,
                                           store_shape shape, const std::string& next,
                                           std::uint32_t packed_key = 0,
                                           std::uint32_t packed_value = 0) {
    auto anchor_seg = manager_segment::create(name, sizeof(manager_anchor), manager_anchor_kind);
    auto* a = ::new (static_cast<void*>(anchor_seg->payload())) manager_anchor;
    a->type = type;
    a->shape = static_cast<std::uint64_t>(shape);
    a->next.set(next);
    const std::string data_name = manager_segment_name();
    a->data[0].set(data_name);
    const std::uint64_t initial = std::min<std::uint64_t>(
        shape == store_shape::table ? manager_initial_table_capacity : manager_initial_capacity,
        manager_reservation);
    std::shared_ptr<manager_segment> data_seg;
    try {
      data_seg =
          manager_segment::create(data_name, manager_reservation, manager_store_kind, initial);
    } catch (...) {
      manager_segment_unlink(name);
      throw;
    }
    auto c = std::shared_ptr<container>(new container(std::move(anchor_seg), a));
    c->data_ = std::move(data_seg);
    c->store_ = store::format(c->data_->payload(), c->data_->payload_size(), initial, shape,
                              packed_key, packed_value);
    c->populated_ = initial;
    return c;
  }

  /// Maps a container by its anchor's name. OSError if it no longer exists;
  /// ProcessError if it is not a container of proxy type `type`.
  static std::shared_ptr<container> attach(const std::string& name, std::uint64_t type) {
    auto seg = manager_segment::attach(name, manager_anchor_kind);
    if (seg->payload_size() < sizeof(manager_anchor))
      throw ProcessError(fmt::format("shared segment '{}' is too small for a manager container", name));
    auto* a = std::launder(reinterpret_cast<manager_anchor*>(seg->payload()));
    if (a->type != type)
      throw ProcessError(fmt::format(
          "manager container '{}' holds another type (a proxy was loaded as the wrong type)", name));
    auto c = std::shared_ptr<container>(new container(std::move(seg), a));
    c->generation_ = ~std::uint64_t{0};  // maps the data segment on first use
    return c;
  }

  const std::string& name() const noexcept { return anchor_seg_->name(); }
  manager_anchor& anchor() const noexcept { return *anchor_; }

  /// The lock held, the container usable: see the file comment.
  class session {
   public:
    explicit session(container& c) : c_(c) {
      manager_anchor& a = *c.anchor_;
      const std::uint32_t me = lock_owner_id();
      if (a.mutex.owner() == me) throw_reentered();
      a.mutex.lock(me, deadline::never());
      // One test per condition, all usually false; the work is out of line.
      const std::uint64_t gen = a.generation.load(std::memory_order_acquire);
      if (a.shut_down.load(std::memory_order_acquire) != 0 || gen != c.generation_ ||
          c.store_.header().log_count != 0 || !a.data[(gen + 1) & 1].empty() ||
          c.store_.header().used > c.populated_ || c.forks_ != manager_fork_count.load(std::memory_order_relaxed))
        settle(gen);
    }
    ~session() {
      // An exception between the first logged store and commit(): undo.
      if (c_.store_.header().log_count != 0) c_.store_.rollback();
      c_.anchor_->mutex.unlock();
    }
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    store& s() noexcept { return c_.store_; }
    /// Makes sure the store has `bytes` free, growing the container into a
    /// new segment if not, and that this process has mapped them. Call
    /// before the operation's first logged store, whatever it writes.
    void reserve(std::uint64_t bytes) {
      if (c_.store_.free_bytes() < bytes) c_.make_room(bytes);
      c_.populate(bytes);
    }
    void commit() noexcept { c_.store_.commit(); }

   private:
    [[noreturn, gnu::noinline]] static void throw_reentered() {
      throw ProcessError(
          "a manager container was used from inside its own apply(): that would deadlock");
    }
    /// The rest of the constructor (the lock is held): refuses after
    /// shutdown, follows a move, repairs, maps pages in.
    [[gnu::noinline]] void settle(std::uint64_t gen) {
      container& c = c_;
      manager_anchor& a = *c.anchor_;
      try {
        if (a.shut_down.load(std::memory_order_acquire) != 0) throw_manager_shut_down();
        if (gen != c.generation_) c.remap(gen);
        shared_name& spare = a.data[(gen + 1) & 1];
        if (c.store_.header().log_count != 0 || !spare.empty()) recover(spare);
        c.populate(0);
      } catch (...) {
        a.mutex.unlock();
        throw;
      }
    }
    void recover(shared_name& spare) noexcept {
      c_.store_.rollback();
      if (!spare.empty()) {
        manager_segment_unlink(spare.get());
        spare.clear();
      }
    }
    container& c_;
  };

  /// Runs f(session&) with the lock held; returns what f returns.
  template <class F>
  decltype(auto) locked(F&& f) {
    session ss(*this);
    return std::forward<F>(f)(ss);
  }

 private:
  container(std::shared_ptr<manager_segment> anchor_seg, manager_anchor* a)
      : anchor_seg_(std::move(anchor_seg)), anchor_(a), forks_(manager_forks()) {}

  /// Makes sure this process has mapped the store's pages up to `more`
  /// bytes past its end (and then some), in one call rather than a fault
  /// per page. Only performance depends on it.
  void populate(std::uint64_t more) noexcept {
    const std::uint64_t want = store_.header().used + more;
    if (want <= populated_ && forks_ == manager_fork_count.load(std::memory_order_relaxed)) return;
    populate_slow(want);
  }
  [[gnu::noinline]] void populate_slow(std::uint64_t want) noexcept {
    const std::uint32_t forks = manager_forks();
    if (forks_ != forks) {
      forks_ = forks;
      populated_ = 0;
    }
    const store_header& h = store_.header();
    const std::uint64_t to = std::min<std::uint64_t>(
        h.capacity, round_to_page(std::max(want, h.used + std::max(manager_populate_ahead, h.used))));
    if (to > populated_) {
      manager_prefault(data_->payload() + populated_, to - populated_);
      populated_ = to;
    }
  }

  void remap(std::uint64_t gen) {
    const std::string name = anchor_->data[gen & 1].get();
    auto seg = manager_segment::attach(name, manager_store_kind);
    store s(seg->payload(), seg->payload_size());
    s.validate(name);
    data_ = std::move(seg);
    store_ = s;
    generation_ = gen;
    populated_ = 0;
  }

  /// Backs more of the mapping if most of the store is live, else (or if the
  /// mapping is too small) compacts it into a new segment.
  void make_room(std::uint64_t need) {
    store_header& h = store_.header();
    const std::uint64_t live = compacted_size(store_) + need;
    if (h.used + need <= store_.mapped_size() && 2 * live >= h.used) {
      const std::uint64_t to = std::min<std::uint64_t>(
          store_.mapped_size(), round_to_page(std::max(h.used + need, 2 * h.capacity)));
      const std::uint64_t from = h.capacity;
      try {
        data_->commit(from, to);
      } catch (const OSError& e) {
        throw OSError(e.call(), e.code(),
                      fmt::format("{} while growing a manager container to {} bytes (free space "
                                  "in /dev/shm, or store less in it)",
                                  data_->name(), to));
      }
      store_.set_capacity(to);  // after the memory is there: never past what is backed
      if (populated_ >= from) populated_ = to;  // commit() mapped [from, to) here
      return;
    }
    grow(live);
  }

  /// Moves the container into a new segment with room for `live` bytes and more.
  void grow(std::uint64_t live) {
    manager_anchor& a = *anchor_;
    const std::uint64_t gen = generation_;
    const std::uint64_t committed = round_to_page(std::max(2 * live, manager_initial_capacity));
    const std::uint64_t size = std::max(round_to_page(4 * live), manager_reservation);
    shared_name& spare = a.data[(gen + 1) & 1];
    const std::string name = manager_segment_name();
    spare.set(name);  // first, so that a crash from here on leaves the name to remove
    if (manager_fault_hook != nullptr) manager_fault_hook(fault_grow_named);
    std::shared_ptr<manager_segment> seg;
    try {
      seg = manager_segment::create(name, size, manager_store_kind, committed);
    } catch (const OSError& e) {
      spare.clear();
      throw OSError(e.call(), e.code(),
                    fmt::format("{} while growing a manager container to {} bytes (free space in "
                                "/dev/shm, or store less in it)",
                                name, committed));
    } catch (...) {
      spare.clear();
      throw;
    }
    store fresh = store::format(seg->payload(), seg->payload_size(), committed,
                                static_cast<store_shape>(store_.header().shape));
    compact_into(store_, fresh);
    if (manager_fault_hook != nullptr) manager_fault_hook(fault_grow_filled);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    a.generation.store(gen + 1, std::memory_order_release);  // the commit
    if (manager_fault_hook != nullptr) manager_fault_hook(fault_grow_committed);
    shared_name& old = a.data[gen & 1];
    manager_segment_unlink(old.get());
    old.clear();
    data_ = std::move(seg);
    store_ = fresh;
    generation_ = gen + 1;
    populated_ = committed;
  }

  std::shared_ptr<manager_segment> anchor_seg_;
  manager_anchor* anchor_;
  // This process's view of the data; read and changed only under the lock.
  std::shared_ptr<manager_segment> data_;
  store store_;
  std::uint64_t generation_ = 0;
  std::uint64_t populated_ = 0;  // store bytes whose pages this process has mapped
  std::uint32_t forks_;          // manager_fork_count when populated_ was last right
};

}  // namespace multiprocessing::detail
