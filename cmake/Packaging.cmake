# Install rules and the Debian package (CPack).
#
#   cmake --install build [--prefix /usr/local]      binary, man page, bash completion, docs
#   cpack -G DEB --config build/CPackConfig.cmake    synwhy_<version>_<arch>.deb (prefix /usr)
#
# Layout (relative to the prefix):
#   sbin/synwhy                                     ${CMAKE_INSTALL_SBINDIR}
#   share/man/man8/synwhy.8.gz                      ${CMAKE_INSTALL_MANDIR}/man8
#   share/bash-completion/completions/synwhy
#   share/doc/synwhy/README.md                      ${CMAKE_INSTALL_DOCDIR}
#   share/doc/synwhy/examples/synwhy-watch.service  an example only: nothing enables it
include(GNUInstallDirs)

set(SYNWHY_CLI_DIR ${CMAKE_SOURCE_DIR}/userspace/cli)

# The binary: an administrator's tool (root only), so sbin.
install(TARGETS synwhy RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# The man page: the version on its .TH line becomes the project's, then gzip -9n (no name, no
# time stamp: the same bytes on every build), as Debian wants man pages.
set(SYNWHY_MAN_SRC ${SYNWHY_CLI_DIR}/synwhy.8)
set(SYNWHY_MAN_GZ ${CMAKE_BINARY_DIR}/man/synwhy.8.gz)
find_program(GZIP_EXECUTABLE gzip)
find_program(SED_EXECUTABLE sed)
if(GZIP_EXECUTABLE AND SED_EXECUTABLE)
  add_custom_command(OUTPUT ${SYNWHY_MAN_GZ}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh -c "'${SED_EXECUTABLE}' -e 's/^\\(\\.TH .*\"synwhy \\)[0-9][0-9.]*\"/\\1${PROJECT_VERSION}\"/' '${SYNWHY_MAN_SRC}' | '${GZIP_EXECUTABLE}' -9n > '${SYNWHY_MAN_GZ}.tmp' && mv '${SYNWHY_MAN_GZ}.tmp' '${SYNWHY_MAN_GZ}'"
    DEPENDS ${SYNWHY_MAN_SRC}
    COMMENT "Man page synwhy.8.gz"
    VERBATIM)
  add_custom_target(synwhy_man ALL DEPENDS ${SYNWHY_MAN_GZ})
  install(FILES ${SYNWHY_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
  install(FILES ${SYNWHY_MAN_SRC} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
endif()

install(FILES ${SYNWHY_CLI_DIR}/synwhy.bash-completion
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions RENAME synwhy)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${SYNWHY_CLI_DIR}/synwhy-watch.service DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/userspace/render/synwhy.rules.yml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/prometheus)

# --- CPack: one .deb ---
set(SYNWHY_PACKAGE_MAINTAINER "synwhy maintainers <maintainers@synwhy.invalid>"
  CACHE STRING "Maintainer field of the .deb (Name <email>)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME synwhy)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "synwhy")
set(CPACK_PACKAGE_CONTACT "${SYNWHY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "say why inbound TCP/SSH connections are refused or dropped")
# The long description, lines under 80 columns (dpkg indents each by one space).
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "synwhy follows every inbound SYN to the watched ports (22 by default)\n"
  "inside the kernel with eBPF tracepoint programs, sees its fate (accepted,\n"
  "refused, rejected, dropped, unanswered) and joins it with the host's\n"
  "state: listening sockets, sshd and its effective configuration, systemd\n"
  "units and the firewall, down to the exact nftables or iptables-legacy\n"
  "rule. It prints the cause, the evidence and the command that fixes it.\n"
  "Needs a kernel with BTF.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME synwhy)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # synwhy_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SYNWHY_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the libraries the binary links (dpkg-shlibdeps, from dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS nftables)
# The build machine's architecture, unless a cross toolchain file names the target's
# (scripts/toolchain-arm64.cmake: arm64).
find_program(DPKG_EXECUTABLE dpkg)
if(DEFINED SYNWHY_DEB_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${SYNWHY_DEB_ARCH})
elseif(DPKG_EXECUTABLE)
  execute_process(COMMAND ${DPKG_EXECUTABLE} --print-architecture
    OUTPUT_VARIABLE SYNWHY_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${SYNWHY_DEB_ARCH})
endif()
# No source package (`make package_source`): the repository is the source.
set(CPACK_SOURCE_GENERATOR "")

include(CPack)
