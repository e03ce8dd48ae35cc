# FindCheck.cmake — finds Check, the C unit-test library: pkg-config first, then find_path/find_library.
#
# Defines Check_FOUND, Check_VERSION, CHECK_INCLUDE_DIR, CHECK_LIBRARY and the imported target
# Check::Check, which carries what the (usually static) libcheck needs: subunit, rt, m, threads.
# Debian: apt-get install check libsubunit-dev.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_CHECK QUIET check)
endif()

find_path(CHECK_INCLUDE_DIR NAMES check.h HINTS ${PC_CHECK_INCLUDE_DIRS})
# Debian ships libcheck_pic.a (position-independent) beside libcheck.a: prefer it.
find_library(CHECK_LIBRARY NAMES check_pic check HINTS ${PC_CHECK_LIBRARY_DIRS})

if(PC_CHECK_VERSION)
  set(Check_VERSION ${PC_CHECK_VERSION})
elseif(CHECK_INCLUDE_DIR AND EXISTS "${CHECK_INCLUDE_DIR}/check.h")
  file(STRINGS "${CHECK_INCLUDE_DIR}/check.h" _check_ver REGEX "^#define CHECK_M[A-Z]+_VERSION")
  if(_check_ver MATCHES "MAJOR_VERSION +\\(?([0-9]+).*MINOR_VERSION +\\(?([0-9]+).*MICRO_VERSION +\\(?([0-9]+)")
    set(Check_VERSION ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${CMAKE_MATCH_3})
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Check
  REQUIRED_VARS CHECK_LIBRARY CHECK_INCLUDE_DIR
  VERSION_VAR Check_VERSION)
mark_as_advanced(CHECK_INCLUDE_DIR CHECK_LIBRARY CHECK_SUBUNIT_LIBRARY CHECK_RT_LIBRARY)

if(Check_FOUND AND NOT TARGET Check::Check)
  set(THREADS_PREFER_PTHREAD_FLAG ON)
  find_package(Threads QUIET)
  set(_check_deps "")
  if(PC_CHECK_FOUND)
    # pkg-config's full paths of everything libcheck needs, minus libcheck itself.
    foreach(_lib IN LISTS PC_CHECK_LINK_LIBRARIES)
      if(NOT _lib MATCHES "/libcheck(_pic)?\\.")
        list(APPEND _check_deps "${_lib}")
      endif()
    endforeach()
  else()
    find_library(CHECK_SUBUNIT_LIBRARY NAMES subunit)
    find_library(CHECK_RT_LIBRARY NAMES rt)
    foreach(_lib CHECK_SUBUNIT_LIBRARY CHECK_RT_LIBRARY)
      if(${_lib})
        list(APPEND _check_deps "${${_lib}}")
      endif()
    endforeach()
    list(APPEND _check_deps m)
  endif()
  if(TARGET Threads::Threads)
    list(APPEND _check_deps Threads::Threads)
  endif()
  add_library(Check::Check UNKNOWN IMPORTED)
  set_target_properties(Check::Check PROPERTIES
    IMPORTED_LOCATION "${CHECK_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CHECK_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${_check_deps}")
endif()
