# CPack: `cpack -G DEB` in a build folder configured for /usr (the preset
# `deb`: cmake --workflow --preset deb) makes the two packages Debian
# would make of attrace:
#   attrace_VERSION_ARCH.deb        the programs, the extcap, the Wireshark
#                                   plugin when built, man pages, bash
#                                   completion, the README (install
#                                   component `attrace`)
#   libattrace-dev_VERSION_ARCH.deb libattrace's headers, static libraries
#                                   and .pc files (component `dev`); it
#                                   depends on attrace of the same version
# Dependencies of attrace come from dpkg-shlibdeps on the programs
# (libpcap, OpenSSL, libserialport, and Wireshark's libraries for the
# plugin).
set(CPACK_PACKAGE_NAME attrace)
set(CPACK_PACKAGE_VENDOR "attrace")
set(CPACK_PACKAGE_CONTACT "attrace maintainers <attrace@localhost>")
# Each package's description starts with its own summary line (CPackDeb
# would put CPACK_PACKAGE_DESCRIPTION_SUMMARY, one for all, before both:
# it is left at CPack's default, which CPackDeb does not add).
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# The programs name installed files by the prefix they were configured
# with (attrace-extcap's help link to the README): the packages install
# under that prefix, which must be /usr for a .deb (checked when cpack
# runs, by package-check.cmake, so that other builds configure freely).
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_PROJECT_CONFIG_FILE "${CMAKE_CURRENT_LIST_DIR}/package-check.cmake")

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL attrace dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # attrace_0.1.0_amd64.deb, libattrace-dev_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Programs and the plugin stripped, as Debian ships them. (CPackDeb's
# debug-symbols package, CPACK_DEBIAN_DEBUGINFO_PACKAGE, is not made:
# CMake 3.25 writes the build folder's paths into its md5sums.)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_ATTRACE_PACKAGE_NAME attrace)
set(CPACK_DEBIAN_ATTRACE_PACKAGE_SECTION net)
# tshark or wireshark load the plugin and run the extcap; not needed for
# the command line.
set(CPACK_DEBIAN_ATTRACE_PACKAGE_SUGGESTS "wireshark | tshark")
# Descriptions: the summary line, then lines of at most 80 characters
# (dpkg shows them as written).
set(CPACK_DEBIAN_ATTRACE_DESCRIPTION
    "protocol analyzer for the AT interface of Cinterion wireless modules
attrace decodes captured UART traffic of Cinterion modules (AT commands,
responses, URCs and the secure-command frames of AT^SBNW=is_cert,1), says
why a module answered SECURE CMD ERROR, records live sessions (attrace
capture, a Wireshark extcap), emulates a module (attrace-sim) and encodes
signed frames.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libattrace-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# attrace-trace.pc requires libpcap's .pc file.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "attrace (= ${CPACK_PACKAGE_VERSION}), libpcap-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "attrace decoder library for the Cinterion AT interface - development files
libattrace decodes the AT interface of Cinterion modules (AT commands,
responses, URCs, secure-command frames) in C11 with no I/O and no
allocation, for host programs and firmware (pkg-config attrace);
libattrace-trace reads and writes attrace's trace files over libpcap
(pkg-config attrace-trace). Static libraries and headers.")
include(CPack)
