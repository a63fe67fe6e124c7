// Seed tutorial "多路加速，了解多进程基本原理", 实战（猫眼 TOP100 + re +
// multiprocessing）: ten board pages, one Pool task each; each task parses
// its page with a regular expression, prints every movie as a dict and
// appends it to result.txt as a JSON line.
//
//   def get_one_page(url):
//       try:
//           response = session.get(url)
//           if response.status_code == 200:
//               return response.text
//           return None
//       except RequestException:
//           return None
//   def parse_one_page(html):
//       pattern = re.compile('<dd>.*?board-index.*?>(\d+)</i>.*?data-src="(.*?)".*?name.*?><a'
//                            +'.*?>(.*?)</a>.*?star">(.*?)</p>.*?releasetime">(.*?)</p>.*?integer">'
//                             +'(.*?)</i>.*?fraction">(.*?)</i>.*?</dd>', re.S)
//       items = re.findall(pattern, html)
//       for item in items:
//           yield {
//               'index': item[0],
//               'image': item[1],
//               'title': item[2],
//               'actor': item[3].strip()[17:],
//               'time': item[4][5:],
//               'score': item[5]+item[6]
//           }
//   def write_to_file(content):
//       with open('result.txt', 'a', encoding='utf-8') as f:
//           f.write(json.dumps(content, ensure_ascii=False) + '\n')
//   def main(offset):
//       url = f'https://maoyan.com/board/4?offset={offset}'
//       html = get_one_page(url)
//       for item in parse_one_page(html):
//           print(item)
//           write_to_file(item)
//   if __name__ == '__main__':
//       pool = Pool()
//       pool.map(main, [i*10 for i in range(10)])
//
// Offline: get_one_page() builds each page in the site's markup instead of
// downloading it. main(offset) is crawl(offset) (C++ has its own main), a
// generator becomes a vector, and re.S's "." is [\s\S] in std::regex. The
// seed's [17:] cut the live page's blanks and "主演：" from the actors; here
// the prefix "主演：" is cut.
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

struct Movie {
  const char* title;
  const char* actors;
  const char* time;
  const char* score;
};

const Movie top10[] = {
    {"霸王别姬", "张国荣,张丰毅,巩俐", "1993-07-26", "9.5"},
    {"肖申克的救赎", "蒂姆·罗宾斯,摩根·弗里曼,鲍勃·冈顿", "1994-09-10(加拿大)", "9.5"},
    {"罗马假日", "格利高里·派克,奥黛丽·赫本,埃迪·艾伯特", "1953-09-02(美国)", "9.1"},
    {"这个杀手不太冷", "让·雷诺,加里·奥德曼,娜塔莉·波特曼", "1994-09-14(法国)", "9.5"},
    {"泰坦尼克号", "莱昂纳多·迪卡普里奥,凯特·温丝莱特,比利·赞恩", "1998-04-03", "9.6"},
    {"唐伯虎点秋香", "周星驰,巩俐,郑佩佩", "1993-07-01(中国香港)", "9.2"},
    {"魂断蓝桥", "费雯·丽,罗伯特·泰勒,露塞尔·沃特森", "1940-05-17(美国)", "9.2"},
    {"乱世佳人", "费雯·丽,克拉克·盖博,奥利维娅·德哈维兰", "1939-12-15(美国)", "9.1"},
    {"天空之城", "寺田农,鹫尾真知子,龟山助清", "1992", "9.1"},
    {"辛德勒的名单", "连姆·尼森,拉尔夫·费因斯,本·金斯利", "1993-11-30(美国)", "9.2"},
};

std::optional<std::string> get_one_page(const std::string& url) {
  int offset = std::stoi(url.substr(url.find("offset=") + 7));
  std::string html = "<dl class=\"board-wrapper\">\n";
  for (int k = 1; k <= 10; ++k) {
    int index = offset + k;
    Movie m = offset == 0 ? top10[k - 1]
                          : Movie{nullptr, "演员甲,演员乙,演员丙", "2000-01-01", "8.8"};
    std::string title = m.title ? m.title : fmt::format("电影{}", index);
    std::string score = m.score;
    html += fmt::format(
        "<dd>\n  <i class=\"board-index board-index-{0}\">{0}</i>\n"
        "  <a href=\"/films/{0}\" title=\"{1}\" class=\"image-link\">\n"
        "    <img data-src=\"https://p0.meituan.net/movie/{0}.jpg\" alt=\"{1}\" class=\"board-img\" />\n"
        "  </a>\n  <div class=\"board-item-main\">\n"
        "    <p class=\"name\"><a href=\"/films/{0}\" title=\"{1}\">{1}</a></p>\n"
        "    <p class=\"star\">\n                主演：{2}\n        </p>\n"
        "    <p class=\"releasetime\">上映时间：{3}</p>\n"
        "    <p class=\"score\"><i class=\"integer\">{4}.</i><i class=\"fraction\">{5}</i></p>\n"
        "  </div>\n</dd>\n",
        index, title, m.actors, m.time, score.substr(0, score.find('.')),
        score.substr(score.find('.') + 1));
  }
  return html + "</dl>\n";
}

std::string strip(const std::string& s) {
  auto b = s.find_first_not_of(" \n\t");
  auto e = s.find_last_not_of(" \n\t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string cut(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
}

using Item = std::vector<std::pair<std::string, std::string>>;  // a dict, in insertion order

std::vector<Item> parse_one_page(const std::string& html) {
  static const std::regex pattern(
      R"re(<dd>[\s\S]*?board-index[\s\S]*?>(\d+)</i>[\s\S]*?data-src="([\s\S]*?)"[\s\S]*?name[\s\S]*?><a)re"
      R"re([\s\S]*?>([\s\S]*?)</a>[\s\S]*?star">([\s\S]*?)</p>[\s\S]*?releasetime">([\s\S]*?)</p>[\s\S]*?integer">)re"
      R"re(([\s\S]*?)</i>[\s\S]*?fraction">([\s\S]*?)</i>[\s\S]*?</dd>)re");
  std::vector<Item> items;
  for (std::sregex_iterator it(html.begin(), html.end(), pattern), end; it != end; ++it) {
    const auto& item = *it;
    items.push_back({{"index", item[1]},
                     {"image", item[2]},
                     {"title", item[3]},
                     {"actor", cut(strip(item[4]), "主演：")},
                     {"time", cut(item[5], "上映时间：")},
                     {"score", item[6].str() + item[7].str()}});
  }
  return items;
}

// print(item): {'index': '1', ...}; json.dumps: {"index": "1", ...}.
std::string dict_text(const Item& item, char quote) {
  std::string out = "{";
  for (const auto& [k, v] : item)
    out += fmt::format("{}{}{}{}: {}{}{}", out.size() > 1 ? ", " : "", quote, k, quote, quote, v, quote);
  return out + "}";
}

void write_to_file(const Item& content) {
  std::ofstream f("result.txt", std::ios::app);
  f << dict_text(content, '"') << '\n';  // one write per line: O_APPEND keeps lines whole
}

void crawl(int offset) {
  std::string url = fmt::format("https://maoyan.com/board/4?offset={}", offset);
  auto html = get_one_page(url);
  for (const auto& item : parse_one_page(html.value_or(""))) {
    fmt::print("{}\n", dict_text(item, '\''));
    write_to_file(item);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, as on a terminal
  mp::Pool pool;
  std::vector<int> offsets;
  for (int i = 0; i < 10; ++i) offsets.push_back(i * 10);
  pool.map(crawl, offsets);
}
