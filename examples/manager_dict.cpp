// Seed notes "多进程", 进程通信字典: a child fills a Manager dict; the parent
// reads it after join().
//
//   def run1(dic: dict):
//       dic["name"] = "九问"
//       dic["phone"] = 193
//       print("run1函数执行完成")
//
//   if __name__ == '__main__':
//       dic = Manager().dict()
//       p1 = Process(target=run1, args=(dic,))
//       p1.start()
//       p1.join()
//       print(f"name={dic['name']}, phone={dic['phone']}")
//
// Two C++ details. The Manager must outlive its proxies: `Manager().dict()`
// would end the temporary manager, and with it the dict, at the semicolon
// (a Python proxy keeps its manager alive). And a dict holding a str and an
// int has a std::variant as its value type.
#include <string>
#include <variant>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/managers.hpp>

using Field = std::variant<std::string, int>;

void run1(mp::DictProxy<std::string, Field> dic) {
  dic["name"] = std::string("九问");
  dic["phone"] = 193;
  fmt::print("run1函数执行完成\n");
}

int main() {
  mp::Manager manager;
  auto dic = manager.dict<std::string, Field>();
  mp::Process p1(run1, dic);
  p1.start();
  p1.join();
  fmt::print("name={}, phone={}\n", std::get<std::string>(dic["name"].get()),
             std::get<int>(dic["phone"].get()));
}
