// Seed tutorial "多路加速，了解多进程基本原理", 实操小例子: a spider process
// fetches a page and puts the user names it finds into a Queue; a parser
// process prints them.
//
//   def spider(q):
//       html = requests.get('http://www.budejie.com', headers = headers)
//       xml = etree.HTML(html.text)
//       user_name = xml.xpath('//div[@class="u-txt"]/a/text()')
//       q.put(user_name)
//
//   def parse(q):
//       while True:
//           time.sleep(0.1)
//           if not q.empty():
//               value = q.get()
//               print(f'value:{value}')
//           break
//
//   if __name__ == '__main__':
//       q = Queue()
//       sp = Process(target=spider, args=(q,))
//       pa = Process(target=parse, args=(q,))
//       sp.start(); pa.start(); sp.join(); pa.join()
//
// Offline: the page is a local copy (below) instead of www.budejie.com, and
// the XPath becomes a regular expression. The parser's 0.1 s head start for
// the spider is the seed's own.
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/queues.hpp>

const char* const page = R"(<html><body>
<div class="j-list-user"><div class="u-txt"><a href="/users/1">百思小编</a></div></div>
<div class="j-list-user"><div class="u-txt"><a href="/users/2">段子手老王</a></div></div>
<div class="j-list-user"><div class="u-txt"><a href="/users/3">神评论</a></div></div>
</body></html>)";

std::string fetch(const std::string& url) { return url == "http://www.budejie.com" ? page : ""; }

void spider(mp::Queue<std::vector<std::string>> q) {
  std::string html = fetch("http://www.budejie.com");
  std::regex user(R"re(<div class="u-txt"><a[^>]*>([^<]*)</a>)re");
  std::vector<std::string> user_name;
  for (std::sregex_iterator it(html.begin(), html.end(), user), end; it != end; ++it)
    user_name.push_back((*it)[1]);
  q.put(user_name);
}

// How Python prints a list of str: ['a', 'b'].
std::string py_list(const std::vector<std::string>& xs) {
  std::string out = "[";
  for (const auto& x : xs) out += fmt::format("{}'{}'", out.size() > 1 ? ", " : "", x);
  return out + "]";
}

void parse(mp::Queue<std::vector<std::string>> q) {
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!q.empty()) {
      auto value = q.get();
      fmt::print("value:{}\n", py_list(value));
    }
    break;
  }
}

int main() {
  mp::Queue<std::vector<std::string>> q;
  mp::Process sp(spider, q);
  mp::Process pa(parse, q);
  sp.start();
  pa.start();
  sp.join();
  pa.join();
}
