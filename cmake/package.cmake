# CPack: `cpack -G DEB` in a build folder makes attrace_VERSION_ARCH.deb
# with everything `cmake --install` installs (programs, the extcap, the
# Wireshark plugin when built, man pages, bash completion, libattrace with
# headers and .pc files), installed under /usr. Dependencies come from
# dpkg-shlibdeps on the programs (libpcap, OpenSSL, libserialport,
# and Wireshark's libraries for the plugin).
set(CPACK_PACKAGE_NAME attrace)
set(CPACK_PACKAGE_VENDOR "attrace")
set(CPACK_PACKAGE_CONTACT "attrace maintainers <attrace@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "protocol analyzer for the AT interface of Cinterion wireless modules")
set(CPACK_PACKAGE_DESCRIPTION
    "attrace decodes captured UART traffic of Cinterion modules (AT commands, \
responses, URCs and the secure-command frames of AT^SBNW=is_cert,1), says \
why a module answered SECURE CMD ERROR, records live sessions (attrace \
capture, a Wireshark extcap), emulates a module (attrace-sim) and encodes \
signed frames.")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # attrace_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# tshark or wireshark load the plugin and run the extcap; not needed for
# the command line.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "wireshark | tshark")
set(CPACK_GENERATOR DEB)
include(CPack)
