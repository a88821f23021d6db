# libattrace for firmware and host programs that embed the decoder, all of
# it install component `dev` (the Debian package libattrace-dev; there is
# no shared library, so nothing of it is in the package attrace):
#   libattrace.a        the pure core (attrace/attrace.h): no I/O, no
#                       globals, no allocation; also built by the arm-core
#                       preset for microcontrollers          -> attrace.pc
#   libattrace-trace.a  trace files (attrace/trace.h) over libpcap
#                                                            -> attrace-trace.pc
# The crypto and analysis libraries are not installed: attrace/crypto.h
# exposes OpenSSL types, and the analysis (whose header has none) links
# the crypto library.
# Included from the top-level CMakeLists.txt after decoder/ is added.
include(GNUInstallDirs)

set(_attrace_inc "${CMAKE_CURRENT_LIST_DIR}/include/attrace")
# attrace.h is read here (version, header list): editing it reconfigures.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_attrace_inc}/attrace.h")
# One version: attrace.h's (for firmware, which has no CMake-made header)
# must be project()'s, which the package and the .pc files carry.
file(STRINGS "${_attrace_inc}/attrace.h" _attrace_h_version
     REGEX "^#define ATTRACE_VERSION_STRING ")
if(NOT _attrace_h_version MATCHES "\"${PROJECT_VERSION}\"")
  message(FATAL_ERROR "attrace.h says ${_attrace_h_version}, project() says ${PROJECT_VERSION}")
endif()
install(TARGETS attrace_core ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev)
# The core's public headers: attrace.h ("the decoder core in one include")
# and every header it includes.
file(STRINGS "${_attrace_inc}/attrace.h" _attrace_core_includes
     REGEX "^#include \"attrace/[a-z_]+\\.h\"")
set(_attrace_core_headers "${_attrace_inc}/attrace.h")
foreach(_line IN LISTS _attrace_core_includes)
  string(REGEX REPLACE "^#include \"attrace/([a-z_]+\\.h)\".*" "\\1" _h "${_line}")
  list(APPEND _attrace_core_headers "${_attrace_inc}/${_h}")
endforeach()
install(FILES ${_attrace_core_headers} DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/attrace"
        COMPONENT dev)

# By default the .pc files find their prefix from their own folder
# (pkg-config's pcfiledir), so that they hold for `cmake --install
# --prefix` and a DESTDIR staging tree alike. A distribution package knows
# its prefix: there it is written as it is (preset deb), so that pkg-config
# prints /usr paths, which it then leaves out as system folders.
option(ATTRACE_PC_RELOCATABLE
  "pkg-config files locate their prefix from their own folder (OFF: the install prefix as it is)"
  ON)
if(ATTRACE_PC_RELOCATABLE)
  file(RELATIVE_PATH _attrace_pc_up
    "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" _attrace_pc_up "${_attrace_pc_up}")
  set(ATTRACE_PC_PREFIX "\${pcfiledir}/${_attrace_pc_up}")
else()
  set(ATTRACE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
set(_attrace_pc_names attrace)
if(TARGET attrace_trace)
  set_target_properties(attrace_trace PROPERTIES OUTPUT_NAME attrace-trace)
  install(TARGETS attrace_trace ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev)
  install(FILES "${_attrace_inc}/trace.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/attrace"
          COMPONENT dev)
  list(APPEND _attrace_pc_names attrace-trace)
endif()
foreach(_pc IN LISTS _attrace_pc_names)
  configure_file("${CMAKE_CURRENT_LIST_DIR}/pkgconfig/${_pc}.pc.in"
                 "${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT dev)
endforeach()
