#pragma once
/// Python's multiprocessing.shared_memory: SharedMemory (a named block of
/// shared memory), ShareableList<T> (a fixed-length list stored in one) and
/// managers::SharedMemoryManager (unlinks the blocks it made at shutdown).

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "detail/posix/shm.hpp"
#include "detail/resource_tracker.hpp"
#include "detail/shareable_list_layout.hpp"
#include "exceptions.hpp"

namespace multiprocessing::shared_memory {

/// Prefix of the names SharedMemory makes up: "mpcpp-psm-<pid>-<random>".
inline constexpr std::string_view generated_name_prefix = "mpcpp-psm-";

/// A named block of shared memory (Python: shared_memory.SharedMemory).
/// Move-only owner of one mapping; the destructor unmaps but, as in Python,
/// does not unlink: call unlink() once, from any process, when the block is
/// no longer needed. A created block is also registered with the resource
/// tracker, which removes it if the program's processes all end without
/// unlinking it (forgotten, crashed or killed).
class SharedMemory {
 public:
  /// Attaches to the block `name`, or with `create` makes a new one of `size`
  /// bytes (mode 0600) named `name`, or a fresh unique name when none is
  /// given. `track` = false keeps a created block away from the resource
  /// tracker (Python 3.13). Throws ValueError (create with size 0, attach
  /// without a name, attach to an empty block) or OSError naming the failed
  /// call: "shm_open" (ENOENT: no such block; EEXIST: name taken),
  /// "posix_fallocate" (ENOSPC: /dev/shm is full; nothing is left behind), "mmap".
  explicit SharedMemory(std::optional<std::string> name = std::nullopt, bool create = false,
                        std::size_t size = 0, bool track = true)
      : track_(track) {
    if (!name && !create) throw ValueError("SharedMemory: 'name' can only be empty if create=true");
    if (create && size == 0)
      throw ValueError("SharedMemory: 'size' must be a positive number different from zero");
    if (create)
      make(std::move(name), size);
    else
      open(std::move(*name));
  }

  SharedMemory(SharedMemory&& other) noexcept
      : name_(std::move(other.name_)),
        addr_(std::exchange(other.addr_, nullptr)),
        mapped_(std::exchange(other.mapped_, 0)),
        size_(std::exchange(other.size_, 0)),
        track_(other.track_) {}
  SharedMemory& operator=(SharedMemory&& other) noexcept {
    if (this != &other) {
      close();
      name_ = std::move(other.name_);
      addr_ = std::exchange(other.addr_, nullptr);
      mapped_ = std::exchange(other.mapped_, 0);
      size_ = std::exchange(other.size_, 0);
      track_ = other.track_;
    }
    return *this;
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory() { close(); }

  /// The block's name without the leading '/': what another process passes
  /// to SharedMemory(name) to attach.
  std::string name() const { return name_; }
  /// The size requested at creation, or the block's size when attached.
  std::size_t size() const noexcept { return size_; }
  /// The mapped bytes; empty after close().
  std::span<std::byte> buf() const noexcept { return {addr_, addr_ != nullptr ? mapped_ : 0}; }
  /// Unmaps the block from this process; idempotent. The block itself stays.
  void close() noexcept {
    detail::posix::shm_unmap(addr_, mapped_);
    addr_ = nullptr;
  }
  /// Removes the block's name (once, from any process); mappings stay valid
  /// until closed. Throws OSError("shm_unlink"), ENOENT if already removed.
  void unlink() {
    const std::string p = path();
    const int err = detail::posix::shm_remove(p);
    // Also after ENOENT: the tracker must not remove a later block of that name.
    if (track_) detail::resource_tracker::instance().unregister_segment(p);
    if (err != 0) detail::throw_os_error("shm_unlink", err, p);
  }

 private:
  std::string path() const { return "/" + name_; }

  static std::string strip_slashes(std::string name) {
    name.erase(0, name.find_first_not_of('/') == std::string::npos ? name.size()
                                                                     : name.find_first_not_of('/'));
    return name;
  }

  void make(std::optional<std::string> name, std::size_t size) {
    namespace px = detail::posix;
    px::unique_fd fd;
    int err = 0;
    if (name) {
      name_ = strip_slashes(std::move(*name));
      fd = px::shm_open_fd(path(), /*create=*/true, err);
      if (!fd) detail::throw_os_error("shm_open", err, path());
    } else {
      for (int attempt = 0;; ++attempt) {
        name_ = px::unique_shm_name(generated_name_prefix);
        fd = px::shm_open_fd(path(), /*create=*/true, err);
        if (fd) break;
        if (err != EEXIST || attempt >= 16) detail::throw_os_error("shm_open", err, path());
      }
    }
    // The name exists from here on: tell the tracker before anything else can
    // fail or kill us, and take the name away again if a later step fails.
    const std::string p = path();
    if (track_) detail::resource_tracker::instance().register_segment(p);
    try {
      px::shm_reserve(fd.get(), size, p);
      addr_ = px::shm_map(fd.get(), size, p);
    } catch (...) {
      px::shm_remove(p);
      if (track_) detail::resource_tracker::instance().unregister_segment(p);
      throw;
    }
    mapped_ = size_ = size;
  }

  void open(std::string name) {
    namespace px = detail::posix;
    name_ = strip_slashes(std::move(name));
    const std::string p = path();
    int err = 0;
    px::unique_fd fd = px::shm_open_fd(p, /*create=*/false, err);
    if (!fd) detail::throw_os_error("shm_open", err, p);
    const std::size_t n = px::shm_size(fd.get(), p);
    if (n == 0) throw ValueError(fmt::format("SharedMemory: block '{}' is empty: cannot map it", name_));
    addr_ = px::shm_map(fd.get(), n, p);
    mapped_ = size_ = n;
  }

  std::string name_;
  std::byte* addr_ = nullptr;
  std::size_t mapped_ = 0;
  std::size_t size_ = 0;
  bool track_ = true;
};

/// Element types a ShareableList can hold: std::string, or a trivially
/// copyable type (arithmetic, enum, aggregate of those) — stored as bytes, so
/// it must not hold pointers, which mean nothing in another process.
template <class T>
concept shareable_element =
    std::same_as<T, std::string> ||
    (std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T>);

/// A fixed-length list in one shared block (Python: shared_memory.ShareableList).
/// Elements can be read and replaced, not added or removed. A string slot
/// holds at most its initial length rounded up to the next multiple of 8
/// (8 * (n / 8 + 1) bytes, as in Python). No lock, as in Python: guard
/// concurrent writers with a Lock. Index errors are mp::ValueError (the
/// library has no IndexError).
template <class T>
class ShareableList {
  static_assert(shareable_element<T>,
                "ShareableList<T>: T must be std::string or a trivially copyable type without "
                "pointers (arithmetic, enum, or an aggregate of those)");

 public:
  /// Assignable element access: converts to T, assigning stores through set().
  class reference {
   public:
    operator T() const { return list_->get(index_); }
    reference& operator=(const T& value) {
      list_->set(index_, value);
      return *this;
    }
    reference& operator=(const reference& other) { return *this = static_cast<T>(other); }
    friend bool operator==(const reference& a, const T& b) { return static_cast<T>(a) == b; }

   private:
    friend class ShareableList;
    reference(ShareableList* list, std::size_t index) noexcept : list_(list), index_(index) {}
    ShareableList* list_;
    std::size_t index_;
  };

  /// Reads elements by value, in order.
  class const_iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T;
    using pointer = void;
    using iterator_category = std::input_iterator_tag;
    const_iterator() = default;
    T operator*() const { return list_->get(index_); }
    const_iterator& operator++() {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) {
      auto old = *this;
      ++index_;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.index_ == b.index_;
    }

   private:
    friend class ShareableList;
    const_iterator(const ShareableList* list, std::size_t index) : list_(list), index_(index) {}
    const ShareableList* list_ = nullptr;
    std::size_t index_ = 0;
  };

  /// With a sequence: creates a block holding it (named `name` if given,
  /// else a fresh name). With only a name: attaches to that list. With
  /// neither: an empty list in a new block. Throws ValueError (the block is
  /// not a ShareableList<T>: another element type, layout or a corrupt
  /// header) and OSError as SharedMemory does.
  explicit ShareableList(std::optional<std::vector<T>> sequence = std::nullopt,
                         std::optional<std::string> name = std::nullopt)
      : shm_(open_block(sequence, name)) {
    if (!sequence && name) {
      count_ = detail::check_list_block<T>(base(), shm_.size(), shm_.name());
    } else {
      count_ = sequence ? sequence->size() : 0;
      fill(sequence ? *sequence : std::vector<T>{});
    }
  }
  /// Creates a block holding `sequence` (named `name` if given).
  ShareableList(std::initializer_list<T> sequence, std::optional<std::string> name = std::nullopt)
      : ShareableList(std::vector<T>(sequence), std::move(name)) {}

  /// Element i; assigning to it stores. Throws ValueError when i >= size().
  reference operator[](std::size_t i) {
    check_index(i);
    return reference(this, i);
  }
  /// Element i by value. Throws ValueError when i >= size().
  T operator[](std::size_t i) const { return get(i); }

  /// Element i by value. Throws ValueError when i >= size().
  T get(std::size_t i) const {
    check_index(i);
    if constexpr (detail::is_string_element<T>) {
      const detail::string_slot s = slot(i);
      const auto length = static_cast<std::size_t>(std::min(s.length, s.capacity));
      return std::string(reinterpret_cast<const char*>(base() + s.offset), length);
    } else {
      std::array<std::byte, sizeof(T)> raw;
      detail::read_raw(base() + data_offset() + i * sizeof(T), raw.data(), sizeof(T));
      return std::bit_cast<T>(raw);
    }
  }

  /// Replaces element i. Throws ValueError when i >= size() or when a string
  /// is longer than its slot's storage.
  void set(std::size_t i, const T& value) {
    check_index(i);
    if constexpr (detail::is_string_element<T>) {
      detail::string_slot s = slot(i);
      if (value.size() > s.capacity)
        throw ValueError(fmt::format(
            "ShareableList: a string of {} bytes exceeds the {} bytes of storage of slot {}",
            value.size(), s.capacity, i));
      detail::write_raw(base() + s.offset, value.data(), value.size());
      s.length = value.size();
      detail::write_raw(base() + slot_position(i), &s, sizeof s);
    } else {
      detail::write_raw(base() + data_offset() + i * sizeof(T), &value, sizeof(T));
    }
  }

  /// Number of elements (fixed at creation; Python: len()).
  std::size_t size() const noexcept { return count_; }

  /// How many elements equal `value`.
  std::size_t count(const T& value) const
    requires std::equality_comparable<T>
  {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += get(i) == value ? 1 : 0;
    return n;
  }

  /// Position of the first element equal to `value`. Throws ValueError if none is.
  std::size_t index(const T& value) const
    requires std::equality_comparable<T>
  {
    for (std::size_t i = 0; i < count_; ++i)
      if (get(i) == value) return i;
    throw ValueError("ShareableList.index(x): x not in list");
  }

  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, count_}; }

  /// The block holding the list (pass shm().name() to attach elsewhere).
  SharedMemory& shm() noexcept { return shm_; }
  const SharedMemory& shm() const noexcept { return shm_; }

 private:
  static SharedMemory open_block(const std::optional<std::vector<T>>& sequence,
                                 const std::optional<std::string>& name) {
    if (!sequence && name) return SharedMemory(name);
    const std::size_t n = sequence ? sequence->size() : 0;
    std::size_t total = detail::list_data_offset<T>(n);
    if constexpr (detail::is_string_element<T>) {
      for (std::size_t i = 0; i < n; ++i) total += detail::string_slot_capacity((*sequence)[i].size());
    } else {
      total += n * sizeof(T);
    }
    return SharedMemory(name, /*create=*/true, total);
  }

  void fill(const std::vector<T>& sequence) {
    detail::list_header h{};
    h.magic = detail::shareable_list_magic;
    h.layout = MULTIPROCESSING_SHM_LAYOUT;
    h.element_size = detail::is_string_element<T> ? 0 : sizeof(T);
    h.element_type = detail::type_hash<T>();
    h.count = sequence.size();
    h.data_offset = data_offset();
    if constexpr (detail::is_string_element<T>) {
      std::uint64_t offset = h.data_offset;
      for (std::size_t i = 0; i < sequence.size(); ++i) {
        const detail::string_slot s{offset, detail::string_slot_capacity(sequence[i].size()),
                                    sequence[i].size()};
        detail::write_raw(base() + slot_position(i), &s, sizeof s);
        detail::write_raw(base() + offset, sequence[i].data(), sequence[i].size());
        offset += s.capacity;
      }
    } else {
      for (std::size_t i = 0; i < sequence.size(); ++i)
        detail::write_raw(base() + h.data_offset + i * sizeof(T), &sequence[i], sizeof(T));
    }
    // The header last: a reader that attaches early sees no valid list rather than half of one.
    detail::write_raw(base(), &h, sizeof h);
  }

  std::byte* base() const noexcept { return shm_.buf().data(); }
  std::size_t data_offset() const noexcept { return detail::list_data_offset<T>(count_); }
  static std::size_t slot_position(std::size_t i) noexcept {
    return detail::list_header_size + i * sizeof(detail::string_slot);
  }

  void check_index(std::size_t i) const {
    if (i >= count_)
      throw ValueError(fmt::format("ShareableList index {} out of range (size {})", i, count_));
    if (base() == nullptr) throw ValueError("ShareableList: its block was closed");
  }

  /// A string slot, checked against the block so a corrupt one cannot point outside it.
  detail::string_slot slot(std::size_t i) const {
    detail::string_slot s;
    detail::read_raw(base() + slot_position(i), &s, sizeof s);
    const std::size_t block = shm_.buf().size();
    if (s.offset < data_offset() || s.offset > block || s.capacity > block - s.offset)
      throw ValueError(fmt::format("ShareableList '{}': slot {} is corrupt", shm_.name(), i));
    return s;
  }

  SharedMemory shm_;
  std::size_t count_ = 0;
};

}  // namespace multiprocessing::shared_memory

namespace multiprocessing::managers {

/// Makes SharedMemory blocks and ShareableLists and unlinks them all when it
/// shuts down (Python: managers.SharedMemoryManager). RAII: constructing it
/// starts it (Python's `with SharedMemoryManager() as smm:`); the destructor
/// shuts it down. Move-only. Only blocks made through this object in the
/// process that created it are unlinked at shutdown: a forked child's copy
/// does nothing at shutdown, and blocks a child makes through its copy are left
/// to the resource tracker.
class SharedMemoryManager {
 public:
  SharedMemoryManager() : state_(std::make_unique<state>()), owner_(detail::posix::shm_owner_pid()) {}
  SharedMemoryManager(SharedMemoryManager&&) noexcept = default;
  SharedMemoryManager& operator=(SharedMemoryManager&& other) noexcept {
    if (this != &other) {
      shutdown();
      state_ = std::move(other.state_);
      owner_ = other.owner_;
    }
    return *this;
  }
  ~SharedMemoryManager() { shutdown(); }

  /// For code written like Python's `smm.start()`: the constructor already
  /// started it, so this does nothing. Throws ProcessError after shutdown().
  void start() {
    std::lock_guard guard(live_state().mutex);
    check_running();
  }

  /// Unlinks every block made through this manager (mappings stay usable
  /// until closed). Idempotent; never throws.
  void shutdown() noexcept {
    if (!state_ || owner_ != detail::posix::shm_owner_pid()) return;
    std::lock_guard guard(state_->mutex);
    if (state_->shut_down) return;
    state_->shut_down = true;
    for (const std::string& name : state_->names) {
      const std::string path = "/" + name;
      // Also after ENOENT (the user unlinked it already): forget the name.
      (void)detail::posix::shm_remove(path);
      detail::resource_tracker::instance().unregister_segment(path);
    }
    state_->names.clear();
  }

  /// A new block of `size` bytes that shutdown() unlinks. Throws ProcessError
  /// after shutdown(), else as SharedMemory(std::nullopt, true, size).
  shared_memory::SharedMemory SharedMemory(std::size_t size) {
    std::lock_guard guard(live_state().mutex);
    check_running();
    shared_memory::SharedMemory block(std::nullopt, /*create=*/true, size);
    state_->names.push_back(block.name());
    return block;
  }

  /// A new ShareableList holding `sequence` that shutdown() unlinks. Throws
  /// ProcessError after shutdown(), else as ShareableList.
  template <class T>
  shared_memory::ShareableList<T> ShareableList(std::vector<T> sequence) {
    std::lock_guard guard(live_state().mutex);
    check_running();
    shared_memory::ShareableList<T> list(std::move(sequence));
    state_->names.push_back(list.shm().name());
    return list;
  }
  template <class T>
  shared_memory::ShareableList<T> ShareableList(std::initializer_list<T> sequence) {
    return ShareableList(std::vector<T>(sequence));
  }

 private:
  struct state {
    std::mutex mutex;
    std::vector<std::string> names;
    bool shut_down = false;
  };

  state& live_state() {
    if (!state_) throw ProcessError("SharedMemoryManager: this manager was moved from");
    return *state_;
  }
  // Called with the mutex held.
  void check_running() const {
    if (state_->shut_down) throw ProcessError("SharedMemoryManager: the manager has shut down");
  }

  std::unique_ptr<state> state_;
  int owner_ = 0;
};

}  // namespace multiprocessing::managers
