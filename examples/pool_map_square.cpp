// Seed tutorial "多路加速，了解多进程基本原理", 进程池 第一种方法（多任务）:
// Pool.map hands each input to a worker and returns the results in order.
//
//   def function_square(data):
//       result = data*data
//       return result
//
//   if __name__ == '__main__':
//       inputs = [i for i in range(100)]
//       pool = Pool(processes=4)
//       pool_outputs = pool.map(function_square, inputs)
//       pool.close()
//       pool.join()
//       print("Pool     :", pool_outputs)
#include <numeric>
#include <vector>

#include <fmt/format.h>
#include <multiprocessing.hpp>
#include <multiprocessing/pool.hpp>

int function_square(int data) {
  int result = data * data;
  return result;
}

int main() {
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  mp::Pool pool(4);
  std::vector<int> pool_outputs = pool.map(function_square, inputs);
  pool.close();
  pool.join();
  fmt::print("Pool     : [{}]\n", fmt::join(pool_outputs, ", "));
}
