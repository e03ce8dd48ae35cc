# SelfbtInstall.cmake — install rules: libraries, headers, find_package(selfbt) config and selfbt.pc.
#
# The CLIs install themselves in cli/CMakeLists.txt. Layout under the prefix:
#   lib/libselfbt.so.0 (+ .so, .a)   include/selfbt/*.h   bin/selfbt-*
#   lib/cmake/selfbt/ (config, version, targets, FindJansson.cmake)   lib/pkgconfig/selfbt.pc
include(CMakePackageConfigHelpers)

set(SBT_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/selfbt CACHE STRING
    "Where selfbtConfig.cmake is installed, relative to the prefix")
mark_as_advanced(SBT_CMAKE_INSTALL_DIR)

install(TARGETS selfbt selfbt_static EXPORT selfbtTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/selfbt
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development
  FILES_MATCHING PATTERN "*.h")

install(EXPORT selfbtTargets NAMESPACE selfbt::
  DESTINATION ${SBT_CMAKE_INSTALL_DIR} COMPONENT Development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/selfbtConfig.cmake.in
  ${PROJECT_BINARY_DIR}/selfbtConfig.cmake
  INSTALL_DESTINATION ${SBT_CMAKE_INSTALL_DIR})
# 0.x releases keep the ABI within a SONAME too (docs/ABI.md), so SameMajorVersion holds.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/selfbtConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/selfbtConfig.cmake
  ${PROJECT_BINARY_DIR}/selfbtConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindJansson.cmake
  DESTINATION ${SBT_CMAKE_INSTALL_DIR} COMPONENT Development)

# selfbt.pc is relocatable: its prefix is found from the .pc file's own folder, so
# `cmake --install build --prefix DIR` gives a working file wherever DIR is.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SBT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SBT_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _sbt_pc_up /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
  string(REGEX REPLACE "/$" "" _sbt_pc_up "${_sbt_pc_up}")
  set(SBT_PC_PREFIX "\${pcfiledir}/${_sbt_pc_up}")
  set(SBT_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SBT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SBT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(SBT_PC_REQUIRES_PRIVATE "jansson")
if(SELFBT_CURL)
  string(APPEND SBT_PC_REQUIRES_PRIVATE " libcurl libcrypto")
endif()
set(SBT_PC_LIBS_PRIVATE "-lm -pthread")
if(OpenMP_C_FOUND)
  string(REPLACE ";" " " _sbt_omp "${OpenMP_C_FLAGS}")
  string(APPEND SBT_PC_LIBS_PRIVATE " ${_sbt_omp}")
endif()
if(SBT_HAVE_CUDA) # the CUDA runtime, cuBLASLt (and cuDNN), and libstdc++ for nvcc's launch stubs
  # (cuDNN is opened at run time with dlopen, so a machine without it still loads libselfbt)
  string(APPEND SBT_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart -lcublasLt -ldl")
  string(APPEND SBT_PC_LIBS_PRIVATE " -lstdc++")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/selfbt.pc.in ${PROJECT_BINARY_DIR}/selfbt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/selfbt.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)
