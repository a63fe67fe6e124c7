// Seed tutorial "Hands-on Crawler with Python - process", In[12]: a class that
// holds a lambda cannot go through a Queue. Python finds out at run time, in
// the queue's feeder thread: "AttributeError: Can't pickle local object
// 'CustomClass.__init__.<locals>.<lambda>'".
//
//   class CustomClass:
//       def __init__(self, name):
//           self.name = name
//           self.func = lambda x: len(x)
//   ...
//   q.put(value)   # fails for every value
//
// C++ finds out at compile time: mp::Queue<T> requires mp::Transferable<T>,
// and a std::function (code plus captured state) is not transferable, so
// `mp::Queue<CustomClass>` does not compile; the message names the type.
// This program checks that with the concept and sends only the name.
//
// write/read are named writer/reader here: POSIX's ::write and ::read would
// make the plain names ambiguous as a Process target.
#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

class CustomClass {
 public:
  explicit CustomClass(std::string name)
      : name(std::move(name)), func([](const std::string& x) { return x.size(); }) {}
  std::string str() const { return fmt::format("CustomClass({})", name); }

  std::string name;
  std::function<std::size_t(const std::string&)> func;
};

static_assert(!mp::Transferable<CustomClass>);
static_assert(!mp::Transferable<std::function<std::size_t(const std::string&)>>);

void reader(mp::Queue<std::string> q) {
  CustomClass value(q.get());  // rebuilt on the other side from what can travel
  fmt::print("Get {} from queue...\n", value.str());
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  CustomClass value("ChatGPT");
  fmt::print("{} is Transferable: {}\n", value.str(), mp::Transferable<CustomClass> ? "True" : "False");
  mp::Queue<std::string> q;  // mp::Queue<CustomClass> q;  would not compile
  mp::Process pr(reader, q);
  pr.start();
  fmt::print("Put {}.name into queue...\n", value.str());
  q.put(value.name);
  pr.join();
}
