# Run by cpack before it makes packages (CPACK_PROJECT_CONFIG_FILE).
# A Debian package installs under /usr, and what the programs know of
# their installed files (attrace-extcap's help link to the README) is the
# prefix the build was configured with: a .deb of a build configured for
# another prefix would point at files that are not there.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR
    "this build is configured for ${CPACK_PACKAGING_INSTALL_PREFIX}; a .deb installs under "
    "/usr: make it from a build configured with -DCMAKE_INSTALL_PREFIX=/usr "
    "(cmake --workflow --preset deb)")
endif()
