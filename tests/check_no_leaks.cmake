# Runs after the whole suite. Fails if a shared-memory segment of ours is
# still in /dev/shm, or if a zombie of ours exists: a process whose command
# name starts with "test_" (a test program or a forked child of one), or
# "mp_" (the helpers and the resource tracker, "mp_tracker") that has exited
# but that nobody reaped.
#
# The resource trackers clean up just after their programs end, and an
# orphan's zombie waits for init (or a subreaper) to reap it, which some
# container inits do only every second or two: so both are judged against a
# deadline rather than at once.
#
# -DSHM_DIR=<dir> (default /dev/shm); -DDEADLINE=<seconds> (default 20).

if(NOT SHM_DIR)
  set(SHM_DIR /dev/shm)
endif()
if(NOT DEADLINE)
  set(DEADLINE 20)
endif()

# Sets ${out} to "pid(comm) parent ppid" for every zombie of ours.
function(_mp_find_zombies out)
  set(_found "")
  if(NOT EXISTS /proc/self/stat)
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  # One `cat` for all: a process may vanish between listing and reading,
  # which file(READ) would turn into an error; cat just skips it.
  execute_process(
    COMMAND sh -c "cat /proc/[0-9]*/stat 2>/dev/null"
    OUTPUT_VARIABLE _stats
    RESULT_VARIABLE _ignored)
  # Command names may hold characters CMake lists treat specially.
  string(REPLACE ";" "_" _stats "${_stats}")
  string(REPLACE "[" "_" _stats "${_stats}")
  string(REPLACE "]" "_" _stats "${_stats}")
  string(REPLACE "\n" ";" _lines "${_stats}")
  foreach(_line IN LISTS _lines)
    # "pid (comm) state ppid ...": comm may contain spaces and parentheses,
    # so the state follows the last ") ".
    if(_line MATCHES "^([0-9]+) \\((.*)\\) Z ([0-9]+) ")
      set(_pid ${CMAKE_MATCH_1})
      set(_comm "${CMAKE_MATCH_2}")
      set(_ppid ${CMAKE_MATCH_3})
      if(_comm MATCHES "^(test_|mp_)")
        list(APPEND _found "${_pid}(${_comm}) parent ${_ppid}")
      endif()
    endif()
  endforeach()
  set(${out} "${_found}" PARENT_SCOPE)
endfunction()

foreach(_i RANGE ${DEADLINE})
  file(GLOB _left "${SHM_DIR}/mpcpp-*")
  _mp_find_zombies(_zombies)
  if(NOT _left AND NOT _zombies)
    message(STATUS "no segment of ours in ${SHM_DIR}, no zombie of ours")
    return()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1)
endforeach()

set(_problems "")
if(_left)
  string(APPEND _problems "leaked shared-memory segments: ${_left}\n")
endif()
if(_zombies)
  string(APPEND _problems "zombie processes nobody reaped: ${_zombies}\n")
endif()
message(FATAL_ERROR "${_problems}")
