// mp::Pipe, mp::Connection and connection::wait. Children report through
// connections and exit codes; they never run assertions.
#include <multiprocessing/connection.hpp>
#include <multiprocessing/detail/config.hpp>
#include <multiprocessing/process.hpp>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"

namespace mp = multiprocessing;
using namespace std::chrono_literals;

namespace {

// Word at a time: the 1 GiB case must stay quick under the sanitizers too.
std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> v(n);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    std::memcpy(v.data() + i, &x, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<std::byte>(x >> (8 * (i % 8)));
  return v;
}

std::uint64_t checksum(std::span<const std::byte> v) {
  std::uint64_t h = 1469598103934665603ULL;
  std::size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    h = (h ^ w) * 1099511628211ULL;
  }
  for (; i < v.size(); ++i) h = (h ^ static_cast<std::uint8_t>(v[i])) * 1099511628211ULL;
  return h;
}

}  // namespace

TEST_CASE("a duplex pipe carries bytes both ways between processes") {
  auto [parent_end, child_end] = mp::Pipe();
  // As in Python, the forked child holds a copy of the parent's end too; it
  // closes it so that the parent's close() reaches it as EOF.
  mp::Process echo(
      [&parent_end](mp::Connection c) {
        parent_end.close();
        for (;;) {
          std::vector<std::byte> m;
          try {
            m = c.recv_bytes();
          } catch (const mp::EOFError&) {
            ::_exit(0);
          }
          c.send_bytes(std::span<const std::byte>(m));
        }
      },
      std::move(child_end));
  echo.start();
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{65536},
                           std::size_t{1} << 20, std::size_t{16} << 20}) {
    auto msg = pattern(size, static_cast<std::uint32_t>(size));
    parent_end.send_bytes(std::span<const std::byte>(msg));
    auto back = parent_end.recv_bytes();
    CHECK(back.size() == size);
    CHECK(back == msg);
  }
  parent_end.close();
  REQUIRE(echo.join(10s));
  CHECK(echo.exitcode() == 0);
}

TEST_CASE("a message of more than 1 GiB arrives intact") {
  // Under TSan every page of a buffer also gets shadow pages and the copy is
  // several times slower: a quarter of the size takes the same code path
  // (both are 4-byte-length frames read in many pieces).
  const std::size_t size = (std::size_t{1} << (MULTIPROCESSING_TSAN ? 28 : 30)) + 3;
  auto [r, w] = mp::Pipe(false);
  auto [result_r, result_w] = mp::Pipe(false);
  mp::Process reader(
      [](mp::Connection in, mp::Connection out) {
        auto m = in.recv_bytes();
        std::uint64_t sum = checksum(m);
        out.send_bytes(std::string_view(reinterpret_cast<const char*>(&sum), sizeof sum));
        std::uint64_t n = m.size();
        out.send_bytes(std::string_view(reinterpret_cast<const char*>(&n), sizeof n));
      },
      std::move(r), std::move(result_w));
  reader.start();
  std::uint64_t expected;
  {
    auto big = pattern(size, 7);
    expected = checksum(big);
    w.send_bytes(std::span<const std::byte>(big));
  }
  auto sum = result_r.recv_bytes();
  auto n = result_r.recv_bytes();
  REQUIRE(sum.size() == 8);
  REQUIRE(n.size() == 8);
  std::uint64_t got_sum, got_n;
  std::memcpy(&got_sum, sum.data(), 8);
  std::memcpy(&got_n, n.data(), 8);
  CHECK(got_n == size);
  CHECK(got_sum == expected);
  REQUIRE(reader.join(60s));
  CHECK(reader.exitcode() == 0);
}

TEST_CASE("typed send and recv round trip; another type is an UnpicklingError") {
  auto [a, b] = mp::Pipe();
  mp::Process child(
      [](mp::Connection c) {
        auto v = c.recv<std::vector<double>>();
        auto m = c.recv<std::map<std::string, int>>();
        c.send(v.size() + m.size());
        c.send(std::string("done"));
      },
      std::move(b));
  child.start();
  a.send(std::vector<double>{1.5, 2.5, 3.5});
  a.send(std::map<std::string, int>{{"a", 1}, {"b", 2}});
  CHECK(a.recv<std::size_t>() == 5);
  CHECK_THROWS_AS(a.recv<int>(), mp::UnpicklingError);  // it was a std::string
  REQUIRE(child.join(10s));
  CHECK(child.exitcode() == 0);
}

TEST_CASE("many small messages keep their order") {
  auto [r, w] = mp::Pipe(false);
  mp::Process producer(
      [](mp::Connection out) {
        for (std::int64_t i = 0; i < 10000; ++i) out.send(i);
      },
      std::move(w));
  producer.start();
  std::int64_t errors = 0;
  for (std::int64_t i = 0; i < 10000; ++i) errors += r.recv<std::int64_t>() != i;
  CHECK(errors == 0);
  CHECK_THROWS_AS(r.recv<std::int64_t>(), mp::EOFError);  // producer ended, its end closed
  producer.join();
}

TEST_CASE("a simplex pipe is {receive-only, send-only}") {
  auto [r, w] = mp::Pipe(false);
  CHECK(r.readable());
  CHECK_FALSE(r.writable());
  CHECK(w.writable());
  CHECK_FALSE(w.readable());
  CHECK_THROWS_AS(r.send_bytes(std::string_view("x")), mp::ValueError);
  CHECK_THROWS_AS(w.recv_bytes(), mp::ValueError);
  CHECK_THROWS_AS(w.poll(), mp::ValueError);
  w.send_bytes(std::string_view("abc"));
  auto m = r.recv_bytes();
  CHECK(std::string(reinterpret_cast<const char*>(m.data()), m.size()) == "abc");
}

TEST_CASE("EOFError once the peer is gone, also when it dies with a child") {
  {
    auto [a, b] = mp::Pipe();
    b.close();
    CHECK(a.poll());  // end of file is "ready", as in Python
    CHECK_THROWS_AS(a.recv_bytes(), mp::EOFError);
  }
  {
    auto [a, b] = mp::Pipe();
    mp::Process child([](mp::Connection) { std::this_thread::sleep_for(100ms); }, std::move(b));
    child.start();
    // The parent's copy of b was closed by start(): only the child holds it.
    CHECK_THROWS_AS(a.recv_bytes(), mp::EOFError);
    child.join();
  }
}

TEST_CASE("a connection moved into a Process is closed in the parent after start") {
  auto [a, b] = mp::Pipe();
  mp::Process child([](mp::Connection c) { c.send_bytes(std::string_view("hi")); }, std::move(b));
  CHECK(b.closed());  // moved from
  child.start();
  auto m = a.recv_bytes();
  CHECK(m.size() == 2);
  CHECK_THROWS_AS(a.recv_bytes(), mp::EOFError);
  child.join();
}

TEST_CASE("a message longer than maxlength is refused and kept for the next read") {
  auto [a, b] = mp::Pipe();
  a.send_bytes(std::string_view("0123456789"));
  CHECK_THROWS_AS(b.recv_bytes(5), mp::ValueError);
  CHECK(b.poll());
  auto m = b.recv_bytes(10);
  CHECK(m.size() == 10);
}

TEST_CASE("recv_bytes_into fills the buffer or raises BufferTooShort with the message") {
  auto [a, b] = mp::Pipe();
  a.send_bytes(std::string_view("hello"));
  std::vector<std::byte> buf(16);
  CHECK(b.recv_bytes_into(buf) == 5);
  CHECK(std::memcmp(buf.data(), "hello", 5) == 0);

  a.send_bytes(std::string_view("a longer message"));
  std::vector<std::byte> small(4);
  try {
    b.recv_bytes_into(small);
    FAIL("expected BufferTooShort");
  } catch (const mp::BufferTooShort& e) {
    CHECK(e.message().size() == 16);
    CHECK(std::memcmp(e.message().data(), "a longer message", 16) == 0);
  }
  CHECK_FALSE(b.poll());  // the message was consumed, not left half-read
}

TEST_CASE("poll reports data and honours its timeout") {
  auto [a, b] = mp::Pipe();
  CHECK_FALSE(b.poll());
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(b.poll(100ms));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 90ms);
  CHECK(waited < 2s);
  a.send(42);
  CHECK(b.poll(1s));
  CHECK(b.recv<int>() == 42);
}

TEST_CASE("a closed connection raises ValueError") {
  auto [a, b] = mp::Pipe();
  a.close();
  CHECK(a.closed());
  CHECK_THROWS_AS(a.fileno(), mp::ValueError);
  CHECK_THROWS_AS(a.send_bytes(std::string_view("x")), mp::ValueError);
  CHECK_THROWS_AS(a.recv_bytes(), mp::ValueError);
  a.close();  // twice is fine
}

TEST_CASE("sending to a vanished peer is an OSError, not a SIGPIPE death") {
  {
    auto [a, b] = mp::Pipe();
    b.close();
    CHECK_THROWS_AS(a.send_bytes(std::string_view("x")), mp::OSError);
  }
  {
    auto [r, w] = mp::Pipe(false);
    r.close();
    try {
      w.send_bytes(std::string_view("x"));
      FAIL("expected OSError");
    } catch (const mp::OSError& e) {
      CHECK(e.code().value() == EPIPE);
    }
  }
}

TEST_CASE("a truncated or lying frame is an EOFError, never a huge allocation") {
  {
    auto [a, b] = mp::Pipe();
    std::uint32_t len = 100;
    (void)!::write(a.fileno(), &len, 4);
    (void)!::write(a.fileno(), "0123456789", 10);
    a.close();
    CHECK_THROWS_AS(b.recv_bytes(), mp::EOFError);
  }
  {
    auto [a, b] = mp::Pipe();
    std::uint32_t marker = 0xFFFFFFFFu;
    std::uint64_t huge = std::uint64_t{1} << 60;
    (void)!::write(a.fileno(), &marker, 4);
    (void)!::write(a.fileno(), &huge, 8);
    (void)!::write(a.fileno(), "abc", 3);
    a.close();
    CHECK_THROWS_AS(b.recv_bytes(), mp::EOFError);
  }
  {
    auto [a, b] = mp::Pipe();
    (void)!::write(a.fileno(), "\x01\x00", 2);  // half a header
    a.close();
    CHECK_THROWS_AS(b.recv_bytes(), mp::EOFError);
  }
}

TEST_CASE("connection::wait returns the ready connections and sentinels") {
  auto [a1, b1] = mp::Pipe();
  auto [a2, b2] = mp::Pipe();
  std::vector<mp::Connection*> both{&a1, &a2};
  auto t0 = std::chrono::steady_clock::now();
  CHECK(mp::connection::wait(both, 100ms).empty());
  CHECK(std::chrono::steady_clock::now() - t0 >= 90ms);

  mp::Process child(
      [](mp::Connection c) {
        std::this_thread::sleep_for(50ms);
        c.send(1);
      },
      std::move(b2));
  child.start();
  auto ready = mp::connection::wait(both);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0] == &a2);
  CHECK(a2.recv<int>() == 1);

  auto ended = mp::connection::wait({child.sentinel()}, 10s);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0] == child.sentinel());
  child.join();

  using item = std::variant<mp::Connection*, int>;
  b1.send(2);
  auto mixed = mp::connection::wait(std::vector<item>{&a1, child.sentinel()}, 1s);
  CHECK(mixed.size() == 2);

  // Python's timeout=None form: an optional duration, empty blocks.
  auto [quiet, talker] = mp::Pipe();
  std::vector<mp::Connection*> one{&quiet};
  std::optional<std::chrono::milliseconds> none, short_wait = 20ms;
  CHECK(mp::connection::wait(one, short_wait).empty());
  talker.send(3);
  CHECK(mp::connection::wait(one, none).size() == 1);
  CHECK(mp::connection::wait(one, std::nullopt).size() == 1);
}
