// Seed tutorial "Hands-on Crawler with Python - process", In[11]: a class that
// holds a Lock, sent through a Queue. Python refuses: "RuntimeError: Lock
// objects should only be shared between processes through inheritance".
//
//   class CustomClass:
//       def __init__(self, name):
//           self.name = name
//           self.lock = Lock()
//       def __str__(self):
//           return f'CustomClass({self.name})'
//
//   def write(q):
//       print(f'Process {os.getpid()} is writing...')
//       for value in [CustomClass(name) for name in chat_names]:
//           print(f'Put {value} into queue...')
//           q.put(value)
//           time.sleep(random.random() * 5)
//
//   def read(q):
//       print(f'Process {os.getpid()} is reading...')
//       while True:
//           value = q.get()
//           print(f'Get {value} from queue...')
//
//   q = Queue()
//   pw = Process(target=write, args=(q,)); pr = Process(target=read, args=(q,))
//   pw.start(); pr.start(); pw.join(); pr.kill()
//
// Beyond Python: an mp::Lock is Transferable (it travels as the name of its
// shared segment), so here every object arrives, and the reader can take
// the very lock the writer made.
//
// write/read are named writer/reader here: POSIX's ::write and ::read would
// make the plain names ambiguous as a Process target.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

const std::vector<std::string> chat_names = {"ChatGPT", "ERNIE Bot", "QianWen", "iFLYTEK Spark",
                                             "ChatGLM"};

class CustomClass {
 public:
  CustomClass() = default;
  explicit CustomClass(std::string name) : name(std::move(name)) {}
  std::string str() const { return fmt::format("CustomClass({})", name); }
  template <class Archive>
  void serialize(Archive& ar) { ar & name & lock; }

  std::string name;
  mp::Lock lock;
};

void writer(mp::Queue<CustomClass> q) {
  fmt::print("Process {} is writing...\n", getpid());
  std::mt19937 rng(std::random_device{}());
  std::vector<CustomClass> values(chat_names.begin(), chat_names.end());
  for (const auto& value : values) {
    fmt::print("Put {} into queue...\n", value.str());
    q.put(value);
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.2)(rng)));  // seed: * 5
  }
}

void reader(mp::Queue<CustomClass> q) {
  fmt::print("Process {} is reading...\n", getpid());
  while (true) {
    CustomClass value = q.get();
    std::lock_guard guard(value.lock);  // the writer's lock, in the reader
    fmt::print("Get {} from queue...\n", value.str());
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Queue<CustomClass> q;
  mp::Process pw(writer, q);
  mp::Process pr(reader, q);
  pw.start();
  pr.start();
  pw.join();
  pr.kill();
  pr.join();
}
