// Seed tutorial "多路加速，了解多进程基本原理", 示例一: five processes, each
// prints its index. (Python's `if __name__ == '__main__':` guard is not
// needed with the default fork start method: main() is the guard.)
//
//   def process(index):
//       print(f"Process: {index}")
//
//   if __name__ == '__main__':
//       for i in range(5):
//           p = multiprocessing.Process(target=process, args=(i,))
//           p.start()
#include <fmt/core.h>
#include <multiprocessing.hpp>

void process(int index) { fmt::print("Process: {}\n", index); }

int main() {
  for (int i = 0; i < 5; ++i) {
    mp::Process p(process, i);
    p.start();
  }  // as in Python, the main process joins its children when it ends
}
