// Seed blog "进程", 7. 异步阻塞与基于生产者消费者模型的爬虫例子: one producer
// process per page URL puts (index, html) into a Queue; one consumer writes
// each page to a file until it gets None.
//
//   url_ls = list()
//   for i in range(1, 6):
//       if i == 1:
//           url = 'https://www.dygod.net/html/gndy/dyzz/'
//       else:
//           url = 'https://www.dygod.net/html/gndy/dyzz/' + 'index_' + str(i) + '.html'
//       url_ls.append(url)
//
//   def producer(i, url, q):
//       ret = requests.get(url)
//       q.put((i, ret.text.encode('latin1').decode('gbk')))
//
//   def consumer(q):
//       while True:
//           t = q.get()
//           if t is None: break
//           with open(f"电影天堂第{t[0]}页.html", encoding='gbk', mode='w') as f:
//               f.write(t[1])
//
//   if __name__ == '__main__':
//       q = Queue()
//       p_ls = []
//       for index, url in enumerate(url_ls, 1):
//           p = Process(target=producer, args=(index, url, q))
//           p.start()
//           p_ls.append(p)
//       Process(target=consumer, args=(q,)).start()
//       for p in p_ls: p.join()
//       q.put(None)
//
// Offline: fetch() makes up each page instead of downloading it, and the
// files are written as UTF-8 (the site served GBK). The seed prints nothing;
// the consumer here also says which file it wrote.
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

using Page = std::optional<std::pair<int, std::string>>;  // None or (i, text)

std::string fetch(const std::string& url) {
  return fmt::format("<html><head><title>最新电影</title></head><body>{}</body></html>\n", url);
}

void producer(int i, const std::string& url, mp::Queue<Page> q) {
  std::string text = fetch(url);
  q.put(std::pair(i, text));
}

void consumer(mp::Queue<Page> q) {
  while (true) {
    Page t = q.get();
    if (!t) break;
    std::string file = fmt::format("电影天堂第{}页.html", t->first);
    std::ofstream f(file);
    f << t->second;
    fmt::print("wrote {}\n", file);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  std::vector<std::string> url_ls;
  for (int i = 1; i < 6; ++i) {
    if (i == 1)
      url_ls.push_back("https://www.dygod.net/html/gndy/dyzz/");
    else
      url_ls.push_back("https://www.dygod.net/html/gndy/dyzz/index_" + std::to_string(i) + ".html");
  }
  mp::Queue<Page> q;
  std::vector<mp::Process> p_ls;
  int index = 1;
  for (const auto& url : url_ls) {
    mp::Process p(producer, index++, url, q);
    p.start();
    p_ls.push_back(std::move(p));
  }
  mp::Process(consumer, q).start();
  for (auto& p : p_ls) p.join();
  q.put(std::nullopt);
}
