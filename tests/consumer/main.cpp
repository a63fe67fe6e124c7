// The program every consumption test builds: whichever way the library was
// found, the umbrella header compiles, links and runs.
#include <multiprocessing.hpp>

#include <cstdio>
#include <string>
#include <system_error>

int main() {
  if (mp::cpu_count() <= 0) return 2;
  try {
    throw mp::OSError("shm_open", std::make_error_code(std::errc::no_such_file_or_directory),
                      "/consumer");
  } catch (const mp::ProcessError& e) {
    // fmt is linked: OSError formats its message with it.
    if (std::string(e.what()).find("shm_open") == std::string::npos) return 3;
  }
  std::printf("consumer ok\n");
  return 0;
}
