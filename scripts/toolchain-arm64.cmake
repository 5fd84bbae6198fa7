# CMake toolchain file: cross-compiles synwhy for arm64 (aarch64) on a Debian amd64 host with
# Debian's cross toolchain (crossbuild-essential-arm64) and the :arm64 multiarch -dev packages
# (dpkg --add-architecture arm64). scripts/cross-arm64.sh installs both and uses this file:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=scripts/toolchain-arm64.cmake
# Multiarch, not a sysroot: the arm64 libraries live beside the host's, under
# /usr/lib/aarch64-linux-gnu, and the headers are shared (/usr/include, plus
# /usr/include/aarch64-linux-gnu). The BPF object is built by the host's clang (-target bpf is
# the same on every host); BpfObject.cmake picks __TARGET_ARCH_arm64 and bpf/vmlinux/arm64 from
# CMAKE_SYSTEM_PROCESSOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and CMake package configs of the target only (…/aarch64-linux-gnu); programs
# (clang, bpftool, gzip, sed, dpkg) from the host. Arch-independent configs (CLI11,
# nlohmann_json: /usr/share/cmake, /usr/lib/cmake) are found too: they are headers only.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# pkg-config: the target's .pc files only, never the host's /usr/lib/x86_64-linux-gnu ones.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# The .deb's Architecture field (cmake/Packaging.cmake would ask dpkg, which says amd64 here).
# cpack must run with DEB_HOST_ARCH=arm64 so that dpkg-shlibdeps reads the arm64 libraries'
# packages (scripts/cross-arm64.sh does).
set(SYNWHY_DEB_ARCH arm64)

# The unit tests cannot run natively here; CMAKE_CROSSCOMPILING_EMULATOR lets ctest run them
# under qemu-user (scripts/cross-arm64.sh sets it with CROSS_UNIT_TESTS=1).
