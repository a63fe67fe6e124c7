// Seed tutorial "Hands-on Crawler with Python - process", In[9]: a writer puts
// names into a Queue, a reader prints them; the reader is killed at the end.
//
//   chat_names = ['ChatGPT', 'ERNIE Bot', 'QianWen', 'iFLYTEK Spark', 'ChatGLM']
//
//   def write(q):
//       print(f'Process {os.getpid()} is writing...')
//       for value in chat_names:
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
//   pw = Process(target=write, args=(q,))
//   pr = Process(target=read, args=(q,))
//   pw.start()  # 启动写进程
//   pr.start()  # 启动读进程
//   pw.join()   # 等待写进程结束
//   pr.kill()   # 强行终止进程
//
// write/read are named writer/reader here: POSIX's ::write and ::read would
// make the plain names ambiguous as a Process target.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

const std::vector<std::string> chat_names = {"ChatGPT", "ERNIE Bot", "QianWen", "iFLYTEK Spark",
                                             "ChatGLM"};

void writer(mp::Queue<std::string> q) {
  fmt::print("Process {} is writing...\n", getpid());
  std::mt19937 rng(std::random_device{}());
  for (const auto& value : chat_names) {
    fmt::print("Put {} into queue...\n", value);
    q.put(value);
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.2)(rng)));  // seed: * 5
  }
}

void reader(mp::Queue<std::string> q) {
  fmt::print("Process {} is reading...\n", getpid());
  while (true) {
    std::string value = q.get();
    fmt::print("Get {} from queue...\n", value);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Queue<std::string> q;
  mp::Process pw(writer, q);
  mp::Process pr(reader, q);
  pw.start();
  pr.start();
  pw.join();
  pr.kill();
  pr.join();  // reap it (Python reaps a killed child at exit)
}
