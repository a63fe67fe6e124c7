// Seed tutorial "多路加速，了解多进程基本原理", 进程池 map: Pool.map calls
// scrape() for each URL in three worker processes; a failed fetch is caught
// and reported.
//
//   def scrape(url):
//       try:
//           urllib.request.urlopen(url)
//           print(f'URL {url} Scraped')
//       except (urllib.error.HTTPError, urllib.error.URLError):
//           print(f'URL {url} not Scraped')
//
//   if __name__ == '__main__':
//       pool = Pool(processes=3)
//       urls = [
//           'https://www.baidu.com',
//           'http://www.meituan.com/',
//           'http://www.aiyc.top/',
//           'http://xxxyxxx.net',
//       ]
//       pool.map(scrape, urls)
//       pool.close()
//
// Offline: urlopen() below stands in for urllib's; it knows three hosts and
// fails for the fourth, as the real one did (URLError: no such host).
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

struct URLError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void urlopen(const std::string& url) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the network
  if (url.find("xxxyxxx.net") != std::string::npos)
    throw URLError("<urlopen error [Errno -2] Name or service not known>");
}

void scrape(const std::string& url) {
  try {
    urlopen(url);
    fmt::print("URL {} Scraped\n", url);
  } catch (const URLError&) {
    fmt::print("URL {} not Scraped\n", url);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Pool pool(3);
  std::vector<std::string> urls = {
      "https://www.baidu.com",
      "http://www.meituan.com/",
      "http://www.aiyc.top/",
      "http://xxxyxxx.net",
  };
  pool.map(scrape, urls);
  pool.close();
}
