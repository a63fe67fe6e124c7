// Seed notes "爬虫实战案例-博客园", 多线程采集: the same crawler as
// cnblogs_pool, on a ThreadPoolExecutor of twelve threads.
//
//   def spider(url):
//       text = requests.get(url).text
//       ele = etree.HTML(text)
//       sections = ele.xpath("//div[@id='post_list']/article/section")
//       for section in sections:
//           try:
//               title = section.xpath("./div/a/text()")[0]
//               summary = section.xpath("./div/p/text()")[1].strip("\n ...")
//               avatar = section.xpath("./div/p//img/@src")[0]
//               author = section.xpath("./footer/a/span/text()")[0]
//               writer.writerow((title, summary, avatar, author))
//           except IndexError as e:
//               pass
//
//   if __name__ == "__main__":
//       urls = [f"https://www.cnblogs.com/sitehome/p/{page}" for page in range(1, 11)]
//       pool = ThreadPoolExecutor(12)
//       for url in urls:
//           pool.submit(spider, url)
//       pool.shutdown(True)  # 执行完所有任务才往下运行
//       total_time = ...
//       print("消耗时间：", total_time)
//
// Offline as cnblogs_pool (pages made up by fetch(), XPath as a regex).
#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/futures.hpp>

const auto start_time = std::chrono::steady_clock::now();
std::FILE* fp = std::fopen("cnblogs.csv", "a");

void writerow(const std::vector<std::string>& row) {
  std::string line;
  for (const auto& field : row) line += (line.empty() ? "" : ",") + ("\"" + field + "\"");
  fmt::print(fp, "{}\n", line);  // one stdio call: the threads' rows stay whole
}

std::string fetch(const std::string& url) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the network
  int page = std::stoi(url.substr(url.rfind('/') + 1));
  std::string html = "<div id=\"post_list\">\n";
  for (int k = 1; k <= 20; ++k) {
    std::string avatar = k == 7 ? "" : fmt::format("<img src=\"https://pic.cnblogs.com/face/{}{}.png\" />", page, k);
    html += fmt::format(
        "<article class=\"post-item\"><section class=\"post-item-body\">\n"
        "<div class=\"post-item-text\"><a class=\"post-item-title\" href=\"#\">第{0}页的第{1}篇</a>\n"
        "<p class=\"post-item-summary\">{2}\n    第{0}页第{1}篇的摘要 ...\n</p></div>\n"
        "<footer class=\"post-item-foot\"><a class=\"post-item-author\"><span>作者{0}-{1}</span></a></footer>\n"
        "</section></article>\n",
        page, k, avatar);
  }
  return html + "</div>\n";
}

void spider(const std::string& url) {
  static const std::regex section(
      R"re(<section[\s\S]*?<div[^>]*><a[^>]*>([^<]*)</a>\s*<p[^>]*>(<img src="([^"]*)" />)?\s*([^<]*?)\s*\.\.\.\s*</p>[\s\S]*?<span>([^<]*)</span>[\s\S]*?</section>)re");
  std::string text = fetch(url);
  for (std::sregex_iterator it(text.begin(), text.end(), section), end; it != end; ++it) {
    const auto& s = *it;
    if (!s[3].matched) continue;  // no avatar: the seed's IndexError, passed over
    writerow({s[1], s[4], s[3], s[5]});
  }
}

int main() {
  writerow({"title", "summary", "avatar", "author"});
  std::vector<std::string> urls;
  for (int page = 1; page < 11; ++page) urls.push_back(fmt::format("https://www.cnblogs.com/sitehome/p/{}", page));
  mp::ThreadPoolExecutor pool(12);
  for (const auto& url : urls) pool.submit(spider, url);
  pool.shutdown(true);
  std::fflush(fp);
  auto total_time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time);
  fmt::print("消耗时间： {}\n", total_time.count());
}
