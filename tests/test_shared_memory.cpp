// multiprocessing/shared_memory.hpp: SharedMemory, ShareableList,
// SharedMemoryManager — every member and every error, across processes, and
// with a full /dev/shm (injected and real).

#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <multiprocessing/detail/arena.hpp>
#include <multiprocessing/detail/posix/syscalls.hpp>
#include <multiprocessing/shared_memory.hpp>

#include "catch.hpp"

namespace {

using namespace std::chrono_literals;
namespace mp = multiprocessing;
using mp::shared_memory::ShareableList;
using mp::shared_memory::SharedMemory;

/// Forks; the child runs body() and _exits with its result (98 if it threw).
template <class F>
pid_t fork_run(F&& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : {SIGINT, SIGILL, SIGFPE, SIGSEGV, SIGTERM, SIGABRT}) ::signal(sig, SIG_DFL);
    int code = 98;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

/// Exit code, 128 + signal, or -1 after the timeout (the child is then killed).
int wait_exit(pid_t pid, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -2;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(2ms);
  }
}

template <class F>
int in_child(F&& body) {
  return wait_exit(fork_run(std::forward<F>(body)));
}

bool shm_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

/// Names in /dev/shm that this process created (they carry its pid).
std::set<std::string> our_segments() {
  const std::string pid = std::to_string(::getpid());
  std::set<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("mpcpp-psm-" + pid + "-", 0) == 0 || name.rfind("mpcpp-" + pid + "-", 0) == 0)
      found.insert(name);
  }
  return found;
}

std::string unique_name(const char* what) {
  static int n = 0;
  return "mpcpp-test-" + std::to_string(::getpid()) + "-" + what + "-" + std::to_string(++n);
}

/// Replaces posix_fallocate with one that reports a full /dev/shm; restores it.
struct full_dev_shm {
  decltype(mp::detail::posix::syscall_table::posix_fallocate) saved =
      mp::detail::posix::sys().posix_fallocate;
  full_dev_shm() {
    mp::detail::posix::sys().posix_fallocate = [](int, off_t, off_t) { return ENOSPC; };
  }
  ~full_dev_shm() { mp::detail::posix::sys().posix_fallocate = saved; }
};

struct point {
  int x;
  double y;
  friend bool operator==(const point&, const point&) = default;
};

}  // namespace

TEST_CASE("SharedMemory creates a block under a fresh unique name") {
  SharedMemory a(std::nullopt, true, 1000);
  SharedMemory b(std::nullopt, true, 10);
  CHECK(a.name().rfind("mpcpp-psm-" + std::to_string(::getpid()) + "-", 0) == 0);
  CHECK(a.name().find('/') == std::string::npos);
  CHECK(a.name() != b.name());
  CHECK(a.size() == 1000);
  REQUIRE(a.buf().size() == 1000);
  CHECK(std::all_of(a.buf().begin(), a.buf().end(), [](std::byte x) { return x == std::byte{0}; }));
  a.buf()[999] = std::byte{0x5a};
  CHECK(a.buf()[999] == std::byte{0x5a});

  struct stat st {};
  REQUIRE(::stat(("/dev/shm/" + a.name()).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 1000);
  CHECK(st.st_blocks * 512 >= 1000);  // reserved, not sparse
  // Created blocks are registered, so the tracker runs.
  CHECK(mp::detail::resource_tracker::instance().pid() > 0);

  a.unlink();
  b.unlink();
  CHECK_FALSE(shm_exists(a.name()));
  CHECK_FALSE(shm_exists(b.name()));
  // Unlinking keeps this process's mapping usable.
  CHECK(a.buf()[999] == std::byte{0x5a});
}

TEST_CASE("SharedMemory rejects a zero size and a missing name") {
  CHECK_THROWS_AS(SharedMemory(std::nullopt, true, 0), mp::ValueError);
  CHECK_THROWS_AS(SharedMemory(unique_name("zero"), true, 0), mp::ValueError);
  CHECK_THROWS_AS(SharedMemory(), mp::ValueError);
  CHECK_THROWS_AS(SharedMemory(std::nullopt, false, 10), mp::ValueError);
  CHECK(our_segments().empty());
}

TEST_CASE("attaching to a name that does not exist is OSError ENOENT from shm_open") {
  const std::string name = unique_name("missing");
  try {
    SharedMemory shm(name);
    FAIL("attached to a missing block");
  } catch (const mp::OSError& e) {
    CHECK(e.call() == "shm_open");
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK(std::string(e.what()).find(name) != std::string::npos);
  }
}

TEST_CASE("creating a name that exists is OSError EEXIST, and the block is left alone") {
  const std::string name = unique_name("taken");
  SharedMemory first(name, true, 64);
  first.buf()[0] = std::byte{42};
  try {
    SharedMemory second(name, true, 128);
    FAIL("created over an existing block");
  } catch (const mp::OSError& e) {
    CHECK(e.call() == "shm_open");
    CHECK(e.code() == std::errc::file_exists);
  }
  SharedMemory again(name);
  CHECK(again.size() == 64);
  CHECK(again.buf()[0] == std::byte{42});
  first.unlink();
}

TEST_CASE("attaching by name sees the block's size and bytes; a leading slash is accepted") {
  const std::string name = unique_name("attach");
  SharedMemory owner(name, true, 4097);
  CHECK(owner.name() == name);
  std::memcpy(owner.buf().data(), "hello", 5);
  SharedMemory other(name);
  CHECK(other.size() == 4097);
  CHECK(other.buf().size() == 4097);
  CHECK(std::memcmp(other.buf().data(), "hello", 5) == 0);
  other.buf()[4096] = std::byte{9};
  CHECK(owner.buf()[4096] == std::byte{9});
  SharedMemory slashed("/" + name);
  CHECK(slashed.name() == name);
  CHECK(slashed.buf()[4096] == std::byte{9});
  owner.unlink();
}

TEST_CASE("close is idempotent and neither close nor the destructor unlinks") {
  std::string name;
  {
    SharedMemory shm(std::nullopt, true, 100);
    name = shm.name();
    shm.close();
    CHECK(shm.buf().empty());
    CHECK(shm.size() == 100);  // still known after close
    shm.close();
    CHECK(shm_exists(name));
  }
  CHECK(shm_exists(name));
  SharedMemory again(name);
  CHECK(again.size() == 100);
  again.unlink();
  CHECK_FALSE(shm_exists(name));
}

TEST_CASE("unlink twice is OSError ENOENT from shm_unlink") {
  SharedMemory shm(std::nullopt, true, 16);
  shm.unlink();
  try {
    shm.unlink();
    FAIL("second unlink succeeded");
  } catch (const mp::OSError& e) {
    CHECK(e.call() == "shm_unlink");
    CHECK(e.code() == std::errc::no_such_file_or_directory);
  }
}

TEST_CASE("SharedMemory is a move-only owner") {
  static_assert(!std::is_copy_constructible_v<SharedMemory>);
  static_assert(std::is_nothrow_move_constructible_v<SharedMemory>);
  SharedMemory a(std::nullopt, true, 32);
  const std::string name = a.name();
  a.buf()[1] = std::byte{1};
  SharedMemory b(std::move(a));
  CHECK(b.name() == name);
  CHECK(b.buf()[1] == std::byte{1});
  CHECK(a.buf().empty());  // NOLINT(bugprone-use-after-move): the moved-from state is defined
  SharedMemory c(std::nullopt, true, 8);
  const std::string c_name = c.name();
  c.unlink();
  c = std::move(b);
  CHECK(c.name() == name);
  CHECK(c.size() == 32);
  c.unlink();
  CHECK_FALSE(shm_exists(c_name));
}

TEST_CASE("a forked child writes into buf() and the parent reads it") {
  SharedMemory shm(std::nullopt, true, 4096);
  auto buf = shm.buf();
  const int code = in_child([&] {
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::byte>(i % 251);
    return 0;
  });
  CHECK(code == 0);
  bool same = true;
  for (std::size_t i = 0; i < buf.size(); ++i) same = same && buf[i] == static_cast<std::byte>(i % 251);
  CHECK(same);
  shm.unlink();
}

TEST_CASE("a child attaches by name, and its destructor leaves the block") {
  SharedMemory shm(std::nullopt, true, 64);
  const std::string name = shm.name();
  const int code = in_child([&] {
    SharedMemory mine(name);
    if (mine.size() != 64) return 1;
    std::memcpy(mine.buf().data(), "from the child", 14);
    return 0;  // destructor runs: closes, does not unlink
  });
  CHECK(code == 0);
  CHECK(std::memcmp(shm.buf().data(), "from the child", 14) == 0);
  CHECK(shm_exists(name));
  shm.unlink();
}

TEST_CASE("track=false keeps a block away from the resource tracker") {
  const std::string tracked = unique_name("tracked"), untracked = unique_name("untracked");
  const int code = in_child([&] {
    // This child stands for a whole program with a tracker of its own, whose
    // warning about the tracked block is expected and not shown.
    std::freopen("/dev/null", "w", stderr);
    mp::detail::resource_tracker::instance().detach();
    SharedMemory a(tracked, true, 16);
    SharedMemory b(untracked, true, 16, /*track=*/false);
    ::_exit(0);  // neither unlinked
    return 0;
  });
  CHECK(code == 0);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (shm_exists(tracked) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK_FALSE(shm_exists(tracked));
  CHECK(shm_exists(untracked));  // like Python: the program's own business
  SharedMemory(untracked).unlink();
}

TEST_CASE("a full /dev/shm is an OSError at creation naming posix_fallocate, leaving nothing") {
  const auto before = our_segments();
  const std::string name = unique_name("full");
  {
    full_dev_shm full;
    for (auto make : {+[](const std::string&) { SharedMemory s(std::nullopt, true, 4096); },
                      +[](const std::string& n) { SharedMemory s(n, true, 4096); }}) {
      try {
        make(name);
        FAIL("created a block on a full /dev/shm");
      } catch (const mp::OSError& e) {
        CHECK(e.call() == "posix_fallocate");
        CHECK(std::string(e.what()).find("posix_fallocate") != std::string::npos);
        CHECK(e.code() == std::errc::no_space_on_device);
      }
    }
  }
  CHECK(our_segments() == before);
  CHECK_FALSE(shm_exists(name));
  // Restored: creation works again.
  SharedMemory ok(name, true, 16);
  ok.unlink();
}

TEST_CASE("a full /dev/shm fails the library's own objects the same way") {
  const auto before = our_segments();
  {
    full_dev_shm full;
    try {
      auto object = mp::detail::shared_ref<int>::make(0, 7);
      FAIL("created an object on a full /dev/shm");
    } catch (const mp::OSError& e) {
      CHECK(e.call() == "posix_fallocate");
      CHECK(std::string(e.what()).find("posix_fallocate") != std::string::npos);
      CHECK(e.code() == std::errc::no_space_on_device);
    }
  }
  CHECK(our_segments() == before);
  auto object = mp::detail::shared_ref<int>::make(0, 7);
  CHECK(*object == 7);
}

TEST_CASE("a block larger than /dev/shm itself fails at creation, not with SIGBUS later") {
  struct statvfs fs {};
  REQUIRE(::statvfs("/dev/shm", &fs) == 0);
  const auto total = static_cast<std::size_t>(fs.f_blocks) * fs.f_frsize;
  if (total == 0) {
    WARN("/dev/shm reports no size limit: nothing to test");
    return;
  }
  const auto before = our_segments();
  try {
    SharedMemory huge(std::nullopt, true, 2 * total + (std::size_t{1} << 30));
    FAIL("a block larger than /dev/shm was created");
  } catch (const mp::OSError& e) {
    CHECK(e.call() == "posix_fallocate");
    CHECK(e.code() == std::errc::no_space_on_device);
  }
  CHECK(our_segments() == before);
}

TEST_CASE("ShareableList of ints: get, set, operator[], count, index, iteration") {
  ShareableList<int> list{3, 1, 4, 1, 5};
  CHECK(list.size() == 5);
  CHECK(list[0] == 3);
  CHECK(list.get(4) == 5);
  list[1] = 10;
  list.set(2, -7);
  CHECK(list.get(1) == 10);
  CHECK(static_cast<int>(list[2]) == -7);
  CHECK(list.count(1) == 1);
  CHECK(list.count(99) == 0);
  CHECK(list.index(5) == 4);
  CHECK_THROWS_AS(list.index(99), mp::ValueError);
  CHECK_THROWS_AS(list.get(5), mp::ValueError);
  CHECK_THROWS_AS(list.set(5, 0), mp::ValueError);
  CHECK_THROWS_AS(list[5], mp::ValueError);
  CHECK(std::vector<int>(list.begin(), list.end()) == std::vector<int>{3, 10, -7, 1, 5});
  list[0] = list[4];
  CHECK(list[0] == 5);
  const auto& view = list;
  CHECK(view[3] == 1);

  // Another process attaches by name and changes it.
  const std::string name = list.shm().name();
  CHECK(in_child([&] {
          ShareableList<int> theirs(std::nullopt, name);
          if (theirs.size() != 5 || theirs[1] != 10) return 1;
          theirs[4] = 500;
          return 0;
        }) == 0);
  CHECK(list[4] == 500);
  list.shm().unlink();
}

TEST_CASE("ShareableList of doubles and of aggregates round-trips") {
  ShareableList<double> d(std::vector<double>{0.5, -1e300, 3.25});
  ShareableList<double> d2(std::nullopt, d.shm().name());
  CHECK(d2.size() == 3);
  CHECK(d2[1] == -1e300);
  d2[2] = 6.5;
  CHECK(d[2] == 6.5);
  CHECK(d.index(6.5) == 2);

  ShareableList<point> p{{1, 1.5}, {2, 2.5}};
  ShareableList<point> p2(std::nullopt, p.shm().name());
  CHECK(p2.get(1) == point{2, 2.5});
  p2.set(0, point{-1, 0.25});
  CHECK(p.get(0) == point{-1, 0.25});
  CHECK(p.count(point{2, 2.5}) == 1);

  ShareableList<int> empty(std::vector<int>{});
  CHECK(empty.size() == 0);
  CHECK(empty.begin() == empty.end());
  CHECK(ShareableList<int>(std::nullopt, empty.shm().name()).size() == 0);

  d.shm().unlink();
  p.shm().unlink();
  empty.shm().unlink();
}

TEST_CASE("ShareableList of strings: each slot holds its initial length rounded up to 8") {
  ShareableList<std::string> list{"abc", "", "exactly8", std::string("nul\0byte", 8)};
  CHECK(list.size() == 4);
  CHECK(list.get(0) == "abc");
  CHECK(list.get(1).empty());
  CHECK(list.get(3) == std::string("nul\0byte", 8));
  CHECK(list[2] == "exactly8");

  list[0] = "12345678";  // "abc" got 8 bytes
  CHECK(list.get(0) == "12345678");
  CHECK_THROWS_AS(list.set(0, "123456789"), mp::ValueError);
  CHECK(list.get(0) == "12345678");  // unchanged by the failed store
  list[1] = "eight ch";              // an empty string still got 8
  CHECK_THROWS_AS(list[1] = std::string(9, 'x'), mp::ValueError);
  list[2] = std::string(16, 'y');  // 8 bytes get 16, as in Python
  CHECK_THROWS_AS(list[2] = std::string(17, 'y'), mp::ValueError);
  list[0] = "";
  CHECK(list.get(0).empty());
  CHECK(list.count("eight ch") == 1);
  CHECK(list.index(std::string(16, 'y')) == 2);

  const std::string name = list.shm().name();
  CHECK(in_child([&] {
          ShareableList<std::string> theirs(std::nullopt, name);
          if (theirs.get(1) != "eight ch") return 1;
          theirs[3] = "child";
          return 0;
        }) == 0);
  CHECK(list.get(3) == "child");
  list.shm().unlink();
}

TEST_CASE("ShareableList with a name creates that block; attaching with the wrong type fails") {
  const std::string name = unique_name("list");
  ShareableList<int> ints(std::vector<int>{1, 2}, name);
  CHECK(ints.shm().name() == name);
  CHECK_THROWS_AS(ShareableList<double>(std::nullopt, name), mp::ValueError);
  CHECK_THROWS_AS(ShareableList<unsigned>(std::nullopt, name), mp::ValueError);
  CHECK_THROWS_AS(ShareableList<std::string>(std::nullopt, name), mp::ValueError);
  CHECK_THROWS_AS(ShareableList<int>(std::vector<int>{3}, name), mp::OSError);  // taken

  // A plain block is not a list.
  SharedMemory plain(std::nullopt, true, 256);
  CHECK_THROWS_AS(ShareableList<int>(std::nullopt, plain.name()), mp::ValueError);
  SharedMemory tiny(std::nullopt, true, 8);
  CHECK_THROWS_AS(ShareableList<int>(std::nullopt, tiny.name()), mp::ValueError);
  // A header whose count claims more than the block holds is refused, not read past.
  std::memcpy(plain.buf().data(), ints.shm().buf().data(), 64);
  std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(plain.buf().data() + offsetof(mp::detail::list_header, count), &huge, sizeof huge);
  CHECK_THROWS_AS(ShareableList<int>(std::nullopt, plain.name()), mp::ValueError);
  CHECK_THROWS_AS(ShareableList<int>(std::nullopt, unique_name("nolist")), mp::OSError);

  ints.shm().unlink();
  plain.unlink();
  tiny.unlink();
}

TEST_CASE("SharedMemoryManager unlinks every block it made when it shuts down") {
  std::vector<std::string> names;
  {
    mp::managers::SharedMemoryManager smm;
    smm.start();  // as Python code does; already running
    SharedMemory a = smm.SharedMemory(128);
    auto list = smm.ShareableList<int>({1, 2, 3});
    auto strings = smm.ShareableList(std::vector<std::string>{"x", "yy"});
    names = {a.name(), list.shm().name(), strings.shm().name()};
    CHECK(a.size() == 128);
    CHECK(list[2] == 3);
    for (const auto& n : names) CHECK(shm_exists(n));
    // A forked copy of the manager does not take the parent's blocks away.
    CHECK(in_child([&] {
            smm.shutdown();
            return 0;
          }) == 0);
    for (const auto& n : names) CHECK(shm_exists(n));
    a.unlink();  // unlinking one early is fine
    smm.shutdown();
    for (const auto& n : names) CHECK_FALSE(shm_exists(n));
    CHECK(list[0] == 1);  // mappings outlive the names
    CHECK_THROWS_AS(smm.SharedMemory(8), mp::ProcessError);
    CHECK_THROWS_AS(smm.ShareableList<int>({1}), mp::ProcessError);
    CHECK_THROWS_AS(smm.start(), mp::ProcessError);
    smm.shutdown();  // idempotent
  }
  {
    mp::managers::SharedMemoryManager smm;
    names = {smm.SharedMemory(8).name()};
    mp::managers::SharedMemoryManager moved(std::move(smm));
    CHECK(shm_exists(names[0]));
  }  // destructor of the moved-to manager
  CHECK_FALSE(shm_exists(names[0]));
}
