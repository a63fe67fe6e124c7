// Seed tutorial "多路加速，了解多进程基本原理", 进程池 第二种方法（单任务）:
// Pool.apply runs one call in a worker and waits for its result.
//
//   def function_square(data):
//       result = data*data
//       return result
//
//   if __name__ == '__main__':
//       pool = Pool(processes=4)
//       pool_outputs = pool.apply(function_square, args=(10, ))
//       pool.close()
//       pool.join()
//       print("Pool     :", pool_outputs)
#include <fmt/core.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

int function_square(int data) {
  int result = data * data;
  return result;
}

int main() {
  mp::Pool pool(4);
  int pool_outputs = pool.apply(function_square, 10);
  pool.close();
  pool.join();
  fmt::print("Pool     : {}\n", pool_outputs);
}
