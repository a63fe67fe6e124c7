# Runs the compiler on SOURCE and passes only if compilation FAILS with output
# that says "transferable" and matches every "// expect-regex: <regex>" line of
# the source (the type's name, the reason).
# Usage: cmake -DCXX=<compiler> -DSOURCE=<file> -DINCLUDES=<dir|dir|...> -P check.cmake
string(REPLACE "|" ";" _includes "${INCLUDES}")
set(_args -std=c++20 -fsyntax-only)
foreach(_dir IN LISTS _includes)
  if(_dir)
    list(APPEND _args "-I${_dir}")
  endif()
endforeach()
execute_process(COMMAND ${CXX} ${_args} ${SOURCE}
  RESULT_VARIABLE _result OUTPUT_VARIABLE _out ERROR_VARIABLE _err TIMEOUT 110)
set(_all "${_out}${_err}")
if(_result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
if(NOT _all MATCHES "transferable")
  message(FATAL_ERROR "compiler output does not say 'transferable':\n${_all}")
endif()
file(STRINGS ${SOURCE} _expects REGEX "^// expect-regex: ")
foreach(_line IN LISTS _expects)
  string(REGEX REPLACE "^// expect-regex: " "" _re "${_line}")
  if(NOT _all MATCHES "${_re}")
    message(FATAL_ERROR "compiler output does not match '${_re}':\n${_all}")
  endif()
endforeach()
message(STATUS "failed to compile as expected: ${SOURCE}")
