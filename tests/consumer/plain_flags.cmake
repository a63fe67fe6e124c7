# cmake -DCXX=<compiler> -DFLAGS=<flag|flag|...> -DLIBS=<flag|...> -DSOURCE=<main.cpp>
#       -DOUTPUT=<exe> -P plain_flags.cmake
# Compiles SOURCE with nothing but the compiler and these flags, then runs it.
string(REPLACE "|" ";" _flags "${FLAGS}")
string(REPLACE "|" ";" _libs "${LIBS}")
get_filename_component(_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${_dir}")
file(REMOVE "${OUTPUT}")
# Libraries come after the source file that needs them.
set(_command "${CXX}" ${_flags} "${SOURCE}" -o "${OUTPUT}" ${_libs})
list(JOIN _command " " _shown)
message(STATUS "${_shown}")
execute_process(COMMAND ${_command} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "compiling with plain flags failed: ${_rc}")
endif()
execute_process(COMMAND "${OUTPUT}" RESULT_VARIABLE _rc OUTPUT_VARIABLE _out)
message(STATUS "${OUTPUT}: ${_out}")
if(NOT _rc EQUAL 0 OR NOT _out MATCHES "consumer ok")
  message(FATAL_ERROR "the plain-flags program failed: exit ${_rc}")
endif()
