#pragma once
/// Python's multiprocessing for C++20: `#include <multiprocessing.hpp>` and
/// `namespace mp = multiprocessing;` as `import multiprocessing as mp`.

#include "multiprocessing/version.hpp"
#include "multiprocessing/exceptions.hpp"
#include "multiprocessing/reduction.hpp"
#include "multiprocessing/process.hpp"
#include "multiprocessing/connection.hpp"
#include "multiprocessing/synchronize.hpp"
#include "multiprocessing/sharedctypes.hpp"
#include "multiprocessing/shared_memory.hpp"
#include "multiprocessing/queues.hpp"
#include "multiprocessing/pool.hpp"
#include "multiprocessing/futures.hpp"
#include "multiprocessing/managers.hpp"

namespace mp = multiprocessing;
