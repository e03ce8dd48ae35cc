# FindJansson.cmake — finds the jansson JSON library: pkg-config first, then find_path/find_library.
#
# Defines Jansson_FOUND, Jansson_VERSION, JANSSON_INCLUDE_DIR, JANSSON_LIBRARY and the
# imported target Jansson::Jansson. Installed beside selfbtConfig.cmake for find_dependency.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_JANSSON QUIET jansson)
endif()

find_path(JANSSON_INCLUDE_DIR NAMES jansson.h HINTS ${PC_JANSSON_INCLUDE_DIRS})
find_library(JANSSON_LIBRARY NAMES jansson HINTS ${PC_JANSSON_LIBRARY_DIRS})

if(PC_JANSSON_VERSION)
  set(Jansson_VERSION ${PC_JANSSON_VERSION})
elseif(JANSSON_INCLUDE_DIR AND EXISTS "${JANSSON_INCLUDE_DIR}/jansson.h")
  file(STRINGS "${JANSSON_INCLUDE_DIR}/jansson.h" _jansson_ver REGEX "^#define JANSSON_VERSION +\"")
  if(_jansson_ver MATCHES "\"([0-9.]+)\"")
    set(Jansson_VERSION ${CMAKE_MATCH_1})
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Jansson
  REQUIRED_VARS JANSSON_LIBRARY JANSSON_INCLUDE_DIR
  VERSION_VAR Jansson_VERSION)
mark_as_advanced(JANSSON_INCLUDE_DIR JANSSON_LIBRARY)

if(Jansson_FOUND AND NOT TARGET Jansson::Jansson)
  add_library(Jansson::Jansson UNKNOWN IMPORTED)
  set_target_properties(Jansson::Jansson PROPERTIES
    IMPORTED_LOCATION "${JANSSON_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${JANSSON_INCLUDE_DIR}")
endif()
