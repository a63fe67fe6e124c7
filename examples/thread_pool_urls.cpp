// Seed tutorial "多路加速，了解多进程基本原理", 补充：线程池: the third-party
// `threadpool` package runs a slow function for 100 inputs on 10 threads.
//
//   import threadpool
//   def get_html(url):
//       time.sleep(3)
//       print(url)
//
//   urls = [i for i in range(100)]
//   pool = threadpool.ThreadPool(10)                 # 建立线程池
//   requests = threadpool.makeRequests(get_html, urls)
//   for req in requests:
//       pool.putRequest(req)                         # 提交任务给线程池
//   pool.wait()
//
// mp::ThreadPool (Python's multiprocessing.pool.ThreadPool) does the same:
// apply_async is putRequest, close() + join() is wait().
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

void get_html(int url) {
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // seed: 3 s
  fmt::print("{}\n", url);
}

int main() {
  std::vector<int> urls(100);
  std::iota(urls.begin(), urls.end(), 0);
  mp::ThreadPool pool(10);
  for (int url : urls) pool.apply_async(get_html, url);
  pool.close();
  pool.join();
}
