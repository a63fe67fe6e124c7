// Seed blog "进程", 8. 进程之间通过Manage类实现数据共享: a dict made by a
// Manager is shared by 100 processes; each takes one from 'count' under a
// Lock.
//
//   def change_dic(dic, lock):
//       with lock:
//           dic['count'] -= 1
//
//   if __name__ == '__main__':
//       m = Manager()
//       dic = m.dict({'count': 100})  # 进程之间数据是隔离的,需要通过Manager使某个数据共享
//       lock = Lock()
//       p_l = []
//       for i in range(100):
//           p = Process(target=change_dic, args=(dic, lock))
//           p.start()
//           p_l.append(p)
//       for p in p_l: p.join()
//       print(dic)
//
// (Beyond Python, dic["count"] -= 1 on a DictProxy is already one atomic
// step; the Lock is kept as in the seed.)
#include <mutex>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/managers.hpp>

void change_dic(mp::DictProxy<std::string, int> dic, mp::Lock lock) {
  std::lock_guard guard(lock);  // with lock:
  dic["count"] -= 1;
}

// How Python prints a dict of str to int: {'count': 0}.
std::string py_dict(const mp::DictProxy<std::string, int>& dic) {
  std::string out = "{";
  for (const auto& [k, v] : dic.items()) out += fmt::format("{}'{}': {}", out.size() > 1 ? ", " : "", k, v);
  return out + "}";
}

int main() {
  mp::Manager m;
  auto dic = m.dict<std::string, int>({{"count", 100}});
  mp::Lock lock;
  std::vector<mp::Process> p_l;
  for (int i = 0; i < 100; ++i) {
    mp::Process p(change_dic, dic, lock);
    p.start();
    p_l.push_back(std::move(p));
  }
  for (auto& p : p_l) p.join();
  fmt::print("{}\n", py_dict(dic));
}
