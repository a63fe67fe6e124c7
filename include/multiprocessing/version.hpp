#pragma once
// The one source of the library's version; CMakeLists.txt reads these lines.

#define MULTIPROCESSING_VERSION_MAJOR 0
#define MULTIPROCESSING_VERSION_MINOR 1
#define MULTIPROCESSING_VERSION_PATCH 0

namespace multiprocessing {
inline constexpr int version_major = MULTIPROCESSING_VERSION_MAJOR;
inline constexpr int version_minor = MULTIPROCESSING_VERSION_MINOR;
inline constexpr int version_patch = MULTIPROCESSING_VERSION_PATCH;
}  // namespace multiprocessing
