# Fails if a shared-memory segment of ours is still in /dev/shm. The resource
# trackers of the test programs clean up just after their programs end, so
# give them a few seconds before judging.
set(_deadline 20)
foreach(_i RANGE ${_deadline})
  file(GLOB _left "${SHM_DIR}/mpcpp-*")
  if(NOT _left)
    message(STATUS "no segment of ours in ${SHM_DIR}")
    return()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1)
endforeach()
message(FATAL_ERROR "leaked shared-memory segments: ${_left}")
