#include <multiprocessing.hpp>

int odr_b_cpu_count() { return mp::cpu_count(); }
