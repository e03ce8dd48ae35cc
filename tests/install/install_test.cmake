# install_test.cmake — installs the build into a temp prefix, then builds and runs tests/install/consumer.
#
# cmake -DBUILD_DIR=... -DWORK_DIR=... -DCONSUMER_DIR=... -DLIBDIR=lib -DBINDIR=bin
#       -DC_COMPILER=cc -DCONFIG=Release -DCLI=selfbt-data -P install_test.cmake
# The consumer is configured twice: with find_package(selfbt) and with pkg-config.
cmake_minimum_required(VERSION 3.21)

function(sbt_run)
  string(JOIN " " _cmd ${ARGN})
  message(STATUS "$ ${_cmd}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "failed (${_rc}): ${_cmd}\n${_out}")
  endif()
  set(SBT_RUN_OUTPUT "${_out}" PARENT_SCOPE)
endfunction()

set(_prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

sbt_run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${_prefix} --config ${CONFIG})

# What the install must hold.
foreach(_f
    include/selfbt/selfbt.h include/selfbt/version.h
    ${LIBDIR}/libselfbt.so ${LIBDIR}/libselfbt.so.${SOVERSION} ${LIBDIR}/libselfbt.a
    ${LIBDIR}/cmake/selfbt/selfbtConfig.cmake ${LIBDIR}/cmake/selfbt/selfbtConfigVersion.cmake
    ${LIBDIR}/cmake/selfbt/selfbtTargets.cmake ${LIBDIR}/pkgconfig/selfbt.pc)
  if(NOT EXISTS ${_prefix}/${_f})
    message(FATAL_ERROR "install is missing ${_f}")
  endif()
endforeach()

# The installed CLIs must find the installed library (RUNPATH $ORIGIN/../lib).
foreach(_cli IN LISTS CLI)
  set(_exe ${_prefix}/${BINDIR}/${_cli})
  if(NOT EXISTS ${_exe})
    message(FATAL_ERROR "install is missing ${BINDIR}/${_cli}")
  endif()
  execute_process(COMMAND ${_exe} --help RESULT_VARIABLE _rc OUTPUT_VARIABLE _o ERROR_VARIABLE _o)
  if(_o MATCHES "error while loading shared libraries" OR _rc EQUAL 127)
    message(FATAL_ERROR "installed ${_cli} cannot load libselfbt:\n${_o}")
  endif()
endforeach()

set(ENV{LD_LIBRARY_PATH} "${_prefix}/${LIBDIR}")
set(ENV{PKG_CONFIG_PATH} "${_prefix}/${LIBDIR}/pkgconfig")
foreach(_how find_package pkg-config)
  set(_b ${WORK_DIR}/consumer-${_how})
  if(_how STREQUAL "find_package")
    set(_where -DCMAKE_PREFIX_PATH=${_prefix})
  else()
    set(_where -DCMAKE_PREFIX_PATH=)  # pkg-config must find it through PKG_CONFIG_PATH alone
  endif()
  sbt_run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${_b} -DSBT_FIND=${_how} ${_where}
          -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_BUILD_TYPE=${CONFIG})
  sbt_run(${CMAKE_COMMAND} --build ${_b} --config ${CONFIG})
  set(_exes consumer)
  if(_how STREQUAL "find_package")
    list(APPEND _exes consumer_static)
  endif()
  foreach(_e IN LISTS _exes)
    sbt_run(${_b}/${_e})
    message(STATUS "${_how}/${_e}: ${SBT_RUN_OUTPUT}")
  endforeach()
endforeach()
message(STATUS "install test passed")
