#!/usr/bin/env bash
# Cross-builds synwhy for arm64 (aarch64) on a Debian 12 amd64 host and packages it as an arm64
# .deb: Debian's cross toolchain (crossbuild-essential-arm64) and multiarch :arm64 libraries,
# the same CMakeLists.txt, scripts/toolchain-arm64.cmake. Idempotent: installs only what is
# missing (adding dpkg's arm64 architecture once), reconfigures and rebuilds incrementally.
#   scripts/cross-arm64.sh [BUILD_DIR]     (default build-arm64)
# Environment:
#   CROSS_JOBS=N        parallel build jobs (default: nproc)
#   CROSS_UNIT_TESTS=1  also build the unit tests and run them under qemu-user (qemu-user-static).
#                       Debian 12's qemu-user (7.2) has no openat2 and no rtnetlink tc messages:
#                       ReadFileInRoot.AbsoluteSymlinksStayInsideTheRoot and
#                       NetPrograms.ListedOnThisMachine fail there (329 of 331 pass); both pass
#                       on the arm64 kernel (scripts/vmtest.sh --arch arm64 with VMTEST_TESTS).
# Then: scripts/vmtest.sh --arch arm64 runs the core scenarios in an arm64 guest (TCG) with it.
# The BPF object is the same bytes whichever vmlinux.h it is built with: see bpf/vmlinux/README.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
BUILD=${1:-build-arm64}
JOBS=${CROSS_JOBS:-$(nproc)}
UNIT=${CROSS_UNIT_TESTS:-0}
PROG=cross-arm64.sh
die() {
    echo "$PROG: $*" >&2
    exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages with apt-get)"

host_packages=(
    crossbuild-essential-arm64 cmake make pkg-config clang llvm bpftool dpkg-dev file
    # header-only, architecture-independent
    libcli11-dev nlohmann-json3-dev
)
# gtest too: tests/CMakeLists.txt needs it at configure time (the e2e tests' definitions, which
# the arm64 guest runs with ctest, come from the same file).
target_packages=(
    libbpf-dev libelf-dev zlib1g-dev libfmt-dev libmnl-dev libnftnl-dev libnftables-dev
    libsystemd-dev libpcap-dev libgtest-dev libgmock-dev
)
[ "$UNIT" != 1 ] || host_packages+=(qemu-user-static)

t=$(now)
added=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    added=1
fi
missing=()
for p in "${host_packages[@]}" "${target_packages[@]/%/:arm64}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "$PROG: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif [ "$added" -eq 1 ]; then
    apt-get update -qq
fi
echo "$PROG: packages ready in $(since "$t") s"

t=$(now)
# CMAKE_SKIP_INSTALL_ALL_DEPENDENCY: cpack installs what the targets below built, without
# building `all` first (the unit tests, unless CROSS_UNIT_TESTS=1).
cmake_args=(-S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=scripts/toolchain-arm64.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo
    -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON)
[ "$UNIT" != 1 ] || cmake_args+=(-DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/qemu-aarch64-static)
cmake "${cmake_args[@]}" >/dev/null
targets=(--target synwhy synwhy_man)
[ "$UNIT" != 1 ] || targets+=(unit_tests)
cmake --build "$BUILD" -j"$JOBS" "${targets[@]}"
echo "$PROG: configured and built in $(since "$t") s"

t=$(now)
rm -f "$BUILD"/synwhy_*_arm64.deb
# dpkg-shlibdeps (the .deb's Depends) must look up the arm64 libraries' packages.
(cd "$BUILD" && DEB_HOST_ARCH=arm64 cpack -G DEB --config CPackConfig.cmake >/dev/null)
deb=$(find "$BUILD" -maxdepth 1 -name 'synwhy_*_arm64.deb' | head -n1)
[ -n "$deb" ] || die "cpack made no synwhy_*_arm64.deb in $BUILD"
echo "$PROG: packaged in $(since "$t") s"

echo "=== $BUILD/synwhy"
file "$BUILD/synwhy"
echo "=== $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb -f "$deb" Package Version Architecture Depends Recommends
dpkg-deb -c "$deb" | awk '{print $1, $3, $6}' | grep -v '/$'
arch=$(dpkg-deb -f "$deb" Architecture)
[ "$arch" = arm64 ] || die "the .deb's Architecture is '$arch', not arm64"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/sbin/synwhy | file - | grep -q 'ARM aarch64' ||
    die "the .deb's usr/sbin/synwhy is not an aarch64 binary"

obj=$BUILD/bpf/synwhy_bpf.bpf.o
echo "=== $obj"
file "$obj"
if [ "$UNIT" = 1 ]; then
    echo "=== unit tests under qemu-user"
    t=$(now)
    "$BUILD/tests/unit_tests" --gtest_brief=1
    echo "$PROG: unit tests in $(since "$t") s"
fi
echo "PASS: $deb"
