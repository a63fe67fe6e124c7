#pragma once
// Decides the platform once; everything else tests these with #if.

#if defined(__linux__)
#define MULTIPROCESSING_LINUX 1
#else
#define MULTIPROCESSING_LINUX 0
#endif

#if defined(__unix__) || defined(__APPLE__)
#define MULTIPROCESSING_POSIX 1
#else
#define MULTIPROCESSING_POSIX 0
#endif

#if !MULTIPROCESSING_POSIX
#error "multiprocessing: only POSIX systems are supported (Linux first)"
#endif

#if defined(__SANITIZE_THREAD__)
#define MULTIPROCESSING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MULTIPROCESSING_TSAN 1
#endif
#endif
#ifndef MULTIPROCESSING_TSAN
#define MULTIPROCESSING_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MULTIPROCESSING_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MULTIPROCESSING_ASAN 1
#endif
#endif
#ifndef MULTIPROCESSING_ASAN
#define MULTIPROCESSING_ASAN 0
#endif

// Magic and layout version stamped into every shared-memory header we create:
// two different builds attaching to one segment get an error, not corruption.
#define MULTIPROCESSING_SHM_MAGIC 0x4d50435050534d31ULL  // "MPCPPSM1"
#define MULTIPROCESSING_SHM_LAYOUT 1u
