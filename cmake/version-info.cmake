# `attrace --version` names the Wireshark the plugin was built for. The
# attrace executable does not link Wireshark, so the version is the one
# pkg-config `wireshark` reports at configure time, compiled in as
# ATTRACE_WIRESHARK_PLUGIN_VERSION (decoder/cli/version.c) when
# wireshark-plugin/ is added to the build and defines a library target (the
# plugin). Included at the end of the top-level CMakeLists.txt, after every
# add_subdirectory().
get_directory_property(_attrace_subdirs SUBDIRECTORIES)
set(ATTRACE_WIRESHARK_PLUGIN_TARGETS)
if("${PROJECT_SOURCE_DIR}/wireshark-plugin" IN_LIST _attrace_subdirs)
  get_directory_property(_attrace_ws_targets
    DIRECTORY "${PROJECT_SOURCE_DIR}/wireshark-plugin" BUILDSYSTEM_TARGETS)
  foreach(_t IN LISTS _attrace_ws_targets)
    get_target_property(_type "${_t}" TYPE)
    if(_type STREQUAL "MODULE_LIBRARY" OR _type STREQUAL "SHARED_LIBRARY")
      list(APPEND ATTRACE_WIRESHARK_PLUGIN_TARGETS "${_t}")
    endif()
  endforeach()
endif()
if(ATTRACE_WIRESHARK_PLUGIN_TARGETS)
  pkg_check_modules(ATTRACE_WS_PC QUIET wireshark)
  if(ATTRACE_WS_PC_FOUND)
    target_compile_definitions(attrace PRIVATE
      ATTRACE_WIRESHARK_PLUGIN_VERSION="${ATTRACE_WS_PC_VERSION}")
    message(STATUS "attrace --version: Wireshark plugin built for ${ATTRACE_WS_PC_VERSION}")
  endif()
endif()

if(ATTRACE_TESTS)
  # The versions printed are those of the libraries loaded at run time.
  set(_attrace_ws_expected "")
  if(ATTRACE_WIRESHARK_PLUGIN_TARGETS AND ATTRACE_WS_PC_FOUND)
    set(_attrace_ws_expected "${ATTRACE_WS_PC_VERSION}")
  endif()
  add_test(NAME version
    COMMAND python3 ${PROJECT_SOURCE_DIR}/tests/packaging/version.py
            $<TARGET_FILE:attrace> ${PROJECT_VERSION} "${_attrace_ws_expected}")
endif()
