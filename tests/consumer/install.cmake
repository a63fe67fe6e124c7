# cmake -DBUILD_DIR=<build> -DPREFIX=<dir> -P install.cmake
# Installs BUILD_DIR into an emptied PREFIX, so that nothing stale can satisfy
# the find_package consumer.
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed: ${_rc}")
endif()
foreach(_file include/multiprocessing.hpp include/multiprocessing/exceptions.hpp)
  if(NOT EXISTS "${PREFIX}/${_file}")
    message(FATAL_ERROR "${_file} was not installed")
  endif()
endforeach()
file(GLOB_RECURSE _config "${PREFIX}/*/multiprocessingConfig.cmake")
if(NOT _config)
  message(FATAL_ERROR "no multiprocessingConfig.cmake under ${PREFIX}")
endif()
