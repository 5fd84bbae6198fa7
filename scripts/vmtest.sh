#!/usr/bin/env bash
# Runs the lab's core end-to-end scenarios with the synwhy built on this host, on a stock Debian
# kernel (Debian 12's 6.1 by default; Debian 11's 5.10 or 6.12 with --kernel), in a QEMU guest
# (TCG: no KVM needed).
#
# The guest boots the kernel of a Debian linux-image-*-amd64-unsigned package (downloaded with
# `apt-get download` and unpacked into the cache, never installed on the host) with a small
# initramfs (busybox-static, also only unpacked) that mounts this host's root filesystem as the
# guest's root: shared by QEMU read-only over 9p (virtio), under a tmpfs overlay, with fresh /run,
# /tmp and /root. So the guest runs this host's userland, its sshd, nft and ssh, and the very same
# build/synwhy, against that kernel; nothing it does can write to the host. Inside, the guest
# script (scripts/vmtest-guest.sh) runs each test as ctest would, prints synwhy --version,
# synwhy doctor and the kernel signals synwhy found (missing_signals), and powers off. This script
# reads the guest's result lines and exits 0 only when every test passed.
#
# Usage: scripts/vmtest.sh [-h] [--kernel 5.10|6.1|6.12] [--arch amd64|arm64]
#   --kernel 6.1   Debian 12 bookworm's newest linux-image-6.1.0-N-amd64-unsigned (the default),
#                  from this machine's own apt lists
#   --kernel 5.10  Debian 11 bullseye's newest linux-image-5.10.0-N-amd64-unsigned
#   --kernel 6.12  the newest linux-image-6.12.*-amd64-unsigned of bookworm-backports (of trixie
#                  when backports has none)
#   5.10 and 6.12 come through a private apt configuration in the cache (build/vmtest/apt/SUITE/:
#   its own sources list, lists and state, Debian's archive keyring, the mirror this machine's
#   apt uses); the machine's own apt sources and lists are never touched for them.
#   --arch arm64   an arm64 guest: qemu-system-aarch64 -M virt -cpu max (TCG) on the same series'
#                  linux-image-*-arm64-unsigned (6.1: from bookworm through a private apt
#                  configuration), testing the cross-built build-arm64/synwhy (scripts/cross-arm64.sh).
#                  The host's x86 userland cannot run there: the guest's root is a Debian 12 arm64
#                  one (scripts/vmtest/rootfs.sh: mmdebstrap, cached by its package list), with the
#                  project's tree and build shared from the host at the same paths (9p, read-only,
#                  under tmpfs overlays). First run: the root takes minutes (mmdebstrap under
#                  qemu-user; it mounts binfmt_misc and registers qemu-aarch64 when missing).
#                  Console on ttyAMA0; results on a virtio console (hvc0). Defaults scaled for
#                  emulating another architecture: VMTEST_TIMEOUT 3600, VMTEST_TIMEOUT_SCALE 4.
# Environment:
#   VMTEST_SCENARIOS  lab scenarios to test in both families (default: the core ones, below)
#   VMTEST_TOPOLOGY_SCENARIOS  TOPOLOGY:SCENARIO pairs run over the lab's topologies that a kernel
#                     may lack (VLAN, ipvlan, bond: Debian's kernel loads their modules on demand);
#                     default: vlan:healthy vlan:nft-drop ipvlan:healthy ipvlan:sshd-stopped
#                     ipvlan:nft-drop ipvlan-l3:healthy ipvlan-l3:nft-drop bond:healthy bond:nft-drop
#   VMTEST_TESTS      exact ctest test names instead (e.g. "e2e.healthy.ipv4 e2e.nft-drop.ipv6")
#   VMTEST_TIMEOUT    seconds for the whole guest run, boot included (default 1200; arm64 3600)
#   VMTEST_TIMEOUT_SCALE  multiplies each test's ctest TIMEOUT (default 2: emulation is slow;
#                     arm64 4)
#   VMTEST_SMP, VMTEST_MEM  guest CPUs (default 1) and MiB (default 2048)
#   VMTEST_KERNEL     the exact kernel package (default: the newest of the --kernel series that
#                     apt knows, else the newest of that series already in the cache)
#   VMTEST_QUIET=1    do not stream the guest console (it is saved in build/vmtest/console.log)
#   SYNWHY            the binary to test (default build/synwhy); BUILD dir: VMTEST_BUILD
#                     (default build, or build-arm64 with --arch arm64)
# Cache: build/vmtest/ (debs, one unpacked tree per kernel package, tools, private apt lists);
# delete it to start over. The last run's console and results are also kept per series
# (console-SERIES.log, results-SERIES.txt).
# Exit status: 0 all tests passed; 1 a test failed; 2 bad usage; 3 the guest could not be
# prepared, booted or finished in time.
set -euo pipefail

PROG=vmtest.sh
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
GUEST_SCRIPT=$ROOT/scripts/vmtest-guest.sh
INIT_SCRIPT=$ROOT/scripts/vmtest/init
SCENARIOS=${VMTEST_SCENARIOS:-sshd-stopped sshd-other-port nft-drop nft-reject-rst nft-reject-icmp healthy vip-dnat vip-dnat-stopped}
SMP=${VMTEST_SMP:-1}
MEM=${VMTEST_MEM:-2048}

usage() { echo "usage: $PROG [-h] [--kernel 5.10|6.1|6.12] [--arch amd64|arm64]   (settings are environment variables: $PROG -h)" >&2; }
SERIES="" SERIES_GIVEN=0 DARCH=amd64
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    --kernel)
        if [ $# -lt 2 ]; then
            echo "$PROG: --kernel needs a value: 5.10, 6.1 or 6.12" >&2
            exit 2
        fi
        SERIES=$2 SERIES_GIVEN=1
        shift 2
        ;;
    --kernel=*)
        SERIES=${1#--kernel=} SERIES_GIVEN=1
        shift
        ;;
    --arch)
        if [ $# -lt 2 ]; then
            echo "$PROG: --arch needs a value: amd64 or arm64" >&2
            exit 2
        fi
        DARCH=$2
        shift 2
        ;;
    --arch=*)
        DARCH=${1#--arch=}
        shift
        ;;
    *)
        usage
        exit 2
        ;;
    esac
done
case $DARCH in
amd64)
    BUILD=${VMTEST_BUILD:-$ROOT/build}
    TOTAL_TIMEOUT=${VMTEST_TIMEOUT:-1200}
    TIMEOUT_SCALE=${VMTEST_TIMEOUT_SCALE:-2}
    ;;
arm64)
    BUILD=${VMTEST_BUILD:-$ROOT/build-arm64}
    TOTAL_TIMEOUT=${VMTEST_TIMEOUT:-3600}
    TIMEOUT_SCALE=${VMTEST_TIMEOUT_SCALE:-4}
    ;;
*)
    echo "$PROG: --arch takes amd64 or arm64, not '$DARCH'" >&2
    exit 2
    ;;
esac
CACHE=$BUILD/vmtest
SYNWHY=$(readlink -f "${SYNWHY:-$BUILD/synwhy}")
# Per series: the package names to pick the newest from (version sort), and the apt
# configurations to look in, in order ("host" is this machine's own apt, as before the matrix).
# 6.12 excludes the -cloud and -rt flavours: the version part must be digits then +SUFFIX
# (6.12.N+deb12, +bpo) or -0.debN.M.
case ${SERIES:=6.1} in
5.10)
    KPKG_RE="^linux-image-5\\.10\\.0-[0-9]+-$DARCH-unsigned\$"
    APT_SETS="bullseye"
    ;;
6.1)
    KPKG_RE="^linux-image-6\\.1\\.0-[0-9]+-$DARCH-unsigned\$"
    # Another architecture's packages come from a private configuration: this machine's apt
    # need not know arm64.
    if [ "$DARCH" = amd64 ]; then APT_SETS="host"; else APT_SETS="bookworm"; fi
    ;;
6.12)
    KPKG_RE="^linux-image-6\\.12\\.[0-9]+(\\+[a-z0-9]+|-[0-9][0-9a-z.]*)-$DARCH-unsigned\$"
    APT_SETS="bookworm-backports trixie"
    ;;
*)
    echo "$PROG: --kernel takes 5.10, 6.1 or 6.12, not '$SERIES'" >&2
    exit 2
    ;;
esac

die() {
    echo "$PROG: $*" >&2
    exit 3
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ok_number() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

[ "$(id -u)" -eq 0 ] || die "run as root: the guest reads the host's files with QEMU's rights, and qemu may need installing"
[ -x "$SYNWHY" ] || die "no synwhy binary at $SYNWHY (build first: cmake -S . -B build && cmake --build build -j2; arm64: scripts/cross-arm64.sh)"
# The binary must be the guest's architecture (ELF e_machine: 62 x86-64, 183 aarch64).
case $(od -An -tu2 -j18 -N2 "$SYNWHY" | tr -d ' ')-$DARCH in
62-amd64 | 183-arm64) ;;
*) die "$SYNWHY is not an $DARCH binary (--arch $DARCH)" ;;
esac
[ -f "$BUILD/CTestTestfile.cmake" ] || die "$BUILD has no ctest tests (configure and build first)"
if ! [ -f "$GUEST_SCRIPT" ] || ! [ -f "$INIT_SCRIPT" ]; then die "missing $GUEST_SCRIPT or $INIT_SCRIPT"; fi
for v in "$TOTAL_TIMEOUT" "$SMP" "$MEM"; do [[ $v =~ ^[1-9][0-9]*$ ]] || die "bad number '$v' in VMTEST_*"; done
ok_number "$TIMEOUT_SCALE" || die "bad VMTEST_TIMEOUT_SCALE '$TIMEOUT_SCALE'"
[ "$MEM" -le 2048 ] || die "VMTEST_MEM is at most 2048 on this shared machine"
# Paths go into a shell file in the initramfs and the kernel's view of the host's tree.
for p in "$ROOT" "$BUILD" "$SYNWHY"; do
    [[ $p =~ ^/[A-Za-z0-9_./+-]+$ ]] || die "path '$p' has characters this script does not pass to the guest"
done

# An explicit --kernel and an explicit package must agree (6.1 must not match 6.12).
series_re="^linux-image-${SERIES//./\\.}[.-]"
if [ "$SERIES_GIVEN" -eq 1 ] && [ -n "${VMTEST_KERNEL:-}" ] && ! [[ $VMTEST_KERNEL =~ $series_re ]]; then
    die "VMTEST_KERNEL=$VMTEST_KERNEL is not a $SERIES kernel (--kernel $SERIES)"
fi

if [ -n "${VMTEST_TESTS:-}" ]; then
    TESTS=$VMTEST_TESTS
else
    TESTS=""
    for fam in 4 6; do
        for s in $SCENARIOS; do TESTS+="${TESTS:+ }e2e.$s.ipv$fam"; done
        for t in ${VMTEST_TOPOLOGY_SCENARIOS-vlan:healthy vlan:nft-drop ipvlan:healthy ipvlan:sshd-stopped \
            ipvlan:nft-drop ipvlan-l3:healthy ipvlan-l3:nft-drop bond:healthy bond:nft-drop}; do
            TESTS+=" e2e.${t%%:*}.${t#*:}.ipv$fam"
        done
    done
fi
for t in $TESTS; do [[ $t =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad test name '$t'"; done

mkdir -p "$CACHE"
# One run at a time per cache (a second one would unpack over the first one's kernel).
exec 9>"$CACHE/.lock"
flock -n 9 || die "another vmtest.sh is running (lock $CACHE/.lock)"

# ---------------------------------------------------------------------------------------------
# QEMU: installed when missing (apt-get update only then).

# arm64 also needs qemu-user (the root filesystem's maintainer scripts) and arch-test (mmdebstrap).
if [ "$DARCH" = amd64 ]; then
    qemu_cmds=(qemu-system-x86_64) qemu_pkgs=(qemu-system-x86)
else
    qemu_cmds=(qemu-system-aarch64 qemu-aarch64-static arch-test mmdebstrap)
    qemu_pkgs=(qemu-system-arm qemu-user-static arch-test mmdebstrap)
fi
for c in "${qemu_cmds[@]}"; do
    command -v "$c" >/dev/null && continue
    echo "$PROG: installing ${qemu_pkgs[*]} (apt-get update, install --no-install-recommends)"
    t=$(now)
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${qemu_pkgs[@]}" >/dev/null ||
        die "apt-get install ${qemu_pkgs[*]} failed"
    echo "$PROG: qemu installed in $(since "$t") s"
    break
done

# ---------------------------------------------------------------------------------------------
# The kernel, busybox and kmod, as packages downloaded into the cache and unpacked there.
# busybox and kmod (the initramfs' shell, the guest's modprobe) always come from this machine's own
# apt; the kernel from its series' apt configuration (APT_SETS).

# This machine's Debian mirrors as its own apt uses them (the archive that serves its release, the
# one that serves a -security suite): the private configurations fetch from the same hosts.
MIRROR="" SECURITY_MIRROR=""
host_mirrors() {
    local codename uri rel
    # shellcheck disable=SC2016 # (apt's own $(FIELD) format, not the shell's)
    local fmt='$(REPO_URI) $(RELEASE)'
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    while read -r uri rel; do
        case $rel in
        *-security) [ -n "$SECURITY_MIRROR" ] || SECURITY_MIRROR=$uri ;;
        "$codename" | "$codename-updates") [ -n "$MIRROR" ] || MIRROR=$uri ;;
        esac
    done < <(apt-get indextargets --format "$fmt" 2>/dev/null | sort -u)
    : "${MIRROR:=http://deb.debian.org/debian/}" "${SECURITY_MIRROR:=http://deb.debian.org/debian-security/}"
    for uri in "$MIRROR" "$SECURITY_MIRROR"; do
        [[ $uri =~ ^https?://[A-Za-z0-9._:/~+-]+$ ]] || die "unexpected mirror URI '$uri' in this machine's apt sources"
    done
}

apt_dir() { if [ "$DARCH" = amd64 ]; then echo "$CACHE/apt/$1"; else echo "$CACHE/apt/$1-$DARCH"; fi; }

# Writes the private apt configuration of SET (a Debian suite, with its -updates and -security
# suites for a release) under the cache. It is passed as APT_CONFIG, which apt reads before
# anything else: it points apt.conf and apt.conf.d away from the machine's (their hooks, e.g.
# AppStream's refresh after an update, are for the machine's lists) and every directory and file
# apt reads state from or writes to into the set's own, so the machine's sources, lists, caches and
# dpkg status are neither read nor changed. Only suites signed by Debian's archive keyring.
apt_setup() {
    local set=$1 d key=/usr/share/keyrings/debian-archive-keyring.gpg
    d=$(apt_dir "$set")
    [ -n "$MIRROR" ] || host_mirrors
    [ -r "$key" ] || die "no $key (package debian-archive-keyring): it signs the $set suites"
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/apt.conf.d"
    [ -f "$d/status" ] || : >"$d/status"
    {
        case $set in
        bullseye | bookworm | trixie)
            echo "deb [arch=$DARCH signed-by=$key] $MIRROR $set main"
            echo "deb [arch=$DARCH signed-by=$key] $MIRROR $set-updates main"
            echo "deb [arch=$DARCH signed-by=$key] $SECURITY_MIRROR $set-security main"
            ;;
        bookworm-backports) echo "deb [arch=$DARCH signed-by=$key] $MIRROR $set main" ;;
        *) die "no apt configuration for suite '$set'" ;;
        esac
    } >"$d/sources.list"
    cat >"$d/apt.conf" <<EOF
// Written by scripts/vmtest.sh: the private apt configuration for the $set kernel packages.
Dir::Etc::main "/dev/null";
Dir::Etc::parts "$d/apt.conf.d";
Dir::Etc::SourceList "$d/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::preferences "/dev/null";
Dir::Etc::PreferencesParts "/dev/null";
Dir::State "$d";
Dir::State::Lists "$d/lists";
Dir::State::status "$d/status";
Dir::Cache "$d/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "$DARCH";
APT::Architectures { "$DARCH"; };
Acquire::Languages { "none"; };
Acquire::GzipIndexes "true";
APT::Sandbox::User "root";
EOF
    # snapshot.debian.org's Release files are past their Valid-Until by design.
    if [[ $MIRROR == *snapshot.debian.org* ]]; then echo 'Acquire::Check-Valid-Until "false";' >>"$d/apt.conf"; fi
}

# Runs an apt command with SET's configuration ("host": the machine's own).
apt_run() {
    local set=$1
    shift
    if [ "$set" = host ]; then "$@"; else APT_CONFIG=$(apt_dir "$set")/apt.conf "$@"; fi
}

# Refreshes SET's lists (at most once a run: lists_fresh).
declare -A lists_fresh=()
apt_update() {
    local set=$1 t
    t=$(now)
    if [ "$set" = host ]; then
        apt-get update -qq >&2 || return 1
    else
        apt_setup "$set"
        apt_run "$set" apt-get -qq update >&2 || return 1
        touch "$(apt_dir "$set")/.updated"
        echo "$PROG: apt lists of $set (private, $(apt_dir "$set")) updated in $(since "$t") s" >&2
    fi
    lists_fresh[$set]=1
}

# Makes SET's private lists usable: fetched the first time, refreshed when older than a week (a
# suite's newest kernel moves on; the machine's own lists are kept fresh by whoever owns them).
# Offline, lists already there are used as they are.
apt_prepare() {
    local set=$1 stamp
    stamp=$(apt_dir "$set")/.updated
    apt_setup "$set"
    if [ -f "$stamp" ] && [ -z "$(find "$stamp" -mtime +6)" ]; then return 0; fi
    apt_update "$set" && return 0
    [ -f "$stamp" ] || return 1
    echo "$PROG: could not refresh the apt lists of $set: using those of $(date -r "$stamp" +%F)" >&2
}

# apt-get download into the cache, reusing a .deb already there. Prints the .deb's path.
fetch_deb() {
    local pkg=$1 set=${2:-host} deb
    deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" 2>/dev/null | sort -V | tail -n1)
    if [ -n "$deb" ]; then
        echo "$deb"
        return 0
    fi
    mkdir -p "$CACHE/debs"
    [ "$set" = host ] || apt_setup "$set"
    # As root, apt's sandbox user could not write here: download as root (the file is verified
    # against the signed lists like any other).
    if ! (cd "$CACHE/debs" && apt_run "$set" apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2); then
        [ "${lists_fresh[$set]:-0}" -eq 0 ] || return 1
        # Lists too old for the mirror (a vanished version): refresh them once and retry.
        apt_update "$set" || return 1
        (cd "$CACHE/debs" && apt_run "$set" apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2) || return 1
    fi
    find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1
}

# Unpacks DEB into DIR (once: DIR/.unpacked marks a complete unpack).
unpack_deb() {
    local deb=$1 dir=$2
    [ -f "$dir/.unpacked" ] && [ "$(cat "$dir/.unpacked")" = "$(basename "$deb")" ] && return 0
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp"
    dpkg-deb -x "$deb" "$dir.tmp"
    basename "$deb" >"$dir.tmp/.unpacked"
    mv "$dir.tmp" "$dir"
}

# Sets KPKG, the kernel package, and KSET, the apt configuration to download it with.
pick_kernel_package() {
    local set pass pkg
    KSET=${APT_SETS%% *}
    if [ -n "${VMTEST_KERNEL:-}" ]; then
        KPKG=$VMTEST_KERNEL
        # A .deb already in the cache needs no apt; else the first configuration that knows it.
        [ -z "$(find "$CACHE/debs" -maxdepth 1 -name "${KPKG}_*.deb" 2>/dev/null)" ] || return 0
        for set in $APT_SETS; do
            [ "$set" != host ] || return 0
            apt_prepare "$set" || continue
            if apt_run "$set" apt-cache show "$KPKG" >/dev/null 2>&1; then
                KSET=$set
                return 0
            fi
        done
        return 0
    fi
    # The newest the lists know, in the first configuration that has one. The machine's own lists
    # are not refreshed for this (only below, when nothing at all can be found).
    for set in $APT_SETS; do
        if [ "$set" != host ]; then apt_prepare "$set" || continue; fi
        pkg=$(apt_run "$set" apt-cache search --names-only "$KPKG_RE" 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
        if [ -n "$pkg" ]; then
            KPKG=$pkg KSET=$set
            return 0
        fi
    done
    for pass in cache refresh; do
        if [ "$pass" = cache ]; then
            # Nothing in apt's lists: the newest of the series already in the cache.
            pkg=$(find "$CACHE/debs" -maxdepth 1 -name 'linux-image-*.deb' 2>/dev/null |
                sed 's|.*/||; s|_.*||' | grep -E "$KPKG_RE" | sort -V | tail -n1) || true
            if [ -n "$pkg" ]; then
                KPKG=$pkg
                return 0
            fi
            continue
        fi
        # Else refresh the lists (those not refreshed yet in this run) and look again.
        for set in $APT_SETS; do
            [ "${lists_fresh[$set]:-0}" -eq 1 ] || apt_update "$set" || continue
            pkg=$(apt_run "$set" apt-cache search --names-only "$KPKG_RE" | awk '{print $1}' | sort -V | tail -n1)
            if [ -n "$pkg" ]; then
                KPKG=$pkg KSET=$set
                return 0
            fi
        done
    done
    return 1
}

KPKG="" KSET=""
pick_kernel_package || die "no package matching $KPKG_RE in the apt lists of: $APT_SETS (nor in $CACHE/debs)"
[[ $KPKG =~ ^linux-image-([0-9][A-Za-z0-9.+-]*)-unsigned$ ]] || die "bad kernel package name '$KPKG'"
KVER=${BASH_REMATCH[1]}
fresh=0
[ -f "$CACHE/kernel/$KPKG/.unpacked" ] && [ -f "$CACHE/tools/busybox/.unpacked" ] &&
    [ -f "$CACHE/tools/kmod/.unpacked" ] && [ -f "$CACHE/kernel/$KPKG/.depmod" ] || fresh=1

# Another architecture's guest cannot run this host's userland: its own root (built once, cached).
ROOTFS="" t_rootfs=0
if [ "$DARCH" != amd64 ]; then
    [ -n "$MIRROR" ] || host_mirrors
    t=$(now)
    ROOTFS=$("$ROOT/scripts/vmtest/rootfs.sh" "$DARCH" "$CACHE" "$MIRROR" "$SECURITY_MIRROR") ||
        die "cannot build the $DARCH root filesystem (scripts/vmtest/rootfs.sh)"
    t_rootfs=$(since "$t")
fi

t=$(now)
kdeb=$(fetch_deb "$KPKG" "$KSET") || die "apt-get download $KPKG ($KSET) failed"
bdeb=$(fetch_deb busybox-static) || die "apt-get download busybox-static failed"
mdeb=$(fetch_deb kmod) || die "apt-get download kmod failed"
t_download=$(since "$t")

t=$(now)
KROOT=$CACHE/kernel/$KPKG
unpack_deb "$kdeb" "$KROOT" || die "cannot unpack $kdeb"
unpack_deb "$bdeb" "$CACHE/tools/busybox" || die "cannot unpack $bdeb"
unpack_deb "$mdeb" "$CACHE/tools/kmod" || die "cannot unpack $mdeb"
BUSYBOX=$CACHE/tools/busybox/bin/busybox
KMOD=$CACHE/tools/kmod/bin/kmod
if ! [ -x "$BUSYBOX" ] || ! [ -x "$KMOD" ]; then die "busybox or kmod missing from their packages"; fi
# These run on this host (the initramfs' cpio, depmod, modprobe --show-depends); in the guest,
# the same ones (amd64: the guest runs the host's userland) or its root's own.
GUEST_BUSYBOX=$BUSYBOX GUEST_KMOD=$KMOD
if [ -n "$ROOTFS" ]; then
    GUEST_BUSYBOX=$ROOTFS/usr/bin/busybox GUEST_KMOD=/usr/bin/kmod
    if ! [ -x "$GUEST_BUSYBOX" ] || ! [ -x "$ROOTFS$GUEST_KMOD" ]; then die "busybox or kmod missing from $ROOTFS"; fi
fi
mkdir -p "$CACHE/tools/bin"
for tool in modprobe depmod; do ln -sfn "$KMOD" "$CACHE/tools/bin/$tool"; done
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
MODDIR=$KROOT/lib/modules/$KVER
if ! [ -f "$VMLINUZ" ] || ! [ -d "$MODDIR" ]; then die "$KPKG has no vmlinuz-$KVER or modules"; fi
# The package leaves modules.dep & co. to its postinst: generate them (kmod from Debian 12).
if ! [ -f "$KROOT/.depmod" ]; then
    "$CACHE/tools/bin/depmod" -b "$KROOT" "$KVER" || die "depmod for $KVER failed"
    touch "$KROOT/.depmod"
fi
t_unpack=$(since "$t")
if [ "$fresh" -eq 1 ]; then cache_state="first time"; else cache_state="cached"; fi

# ---------------------------------------------------------------------------------------------
# The initramfs: busybox, the modules needed to reach the 9p root, init, and this run's settings.

t=$(now)
RUN=$CACHE/run
rm -rf "$RUN"
mkdir -p "$RUN/initramfs/bin" "$RUN/initramfs/modules"
cp "$GUEST_BUSYBOX" "$RUN/initramfs/bin/busybox"
cp "$INIT_SCRIPT" "$RUN/initramfs/init"
chmod 755 "$RUN/initramfs/init"
# In dependency order; a module built into this kernel is reported as builtin and skipped.
# (One module per modprobe: the words after the first are its parameters.)
# arm64: virtio_console too, the results' channel (its virt machine has one serial port).
modules="virtio_pci 9pnet_virtio 9p overlay"
[ "$DARCH" = amd64 ] || modules+=" virtio_console"
for m in $modules; do
    "$CACHE/tools/bin/modprobe" -d "$KROOT" -S "$KVER" --show-depends "$m" ||
        die "cannot resolve module $m of $KVER"
done >"$RUN/modules.deps"
: >"$RUN/initramfs/modules/order"
while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    name=$(basename "$path")
    grep -qxF "${name%%.ko*}.ko" "$RUN/initramfs/modules/order" && continue
    case $path in
    *.ko) cp "$path" "$RUN/initramfs/modules/$name" ;;
    *.ko.xz) xz -dc "$path" >"$RUN/initramfs/modules/${name%.xz}" ;;
    *.ko.zst) zstd -qdc "$path" >"$RUN/initramfs/modules/${name%.zst}" ;;
    *.ko.gz) gzip -dc "$path" >"$RUN/initramfs/modules/${name%.gz}" ;;
    *) die "unexpected module file $path" ;;
    esac
    echo "${name%%.ko*}.ko" >>"$RUN/initramfs/modules/order"
done <"$RUN/modules.deps"
SYNWHY_SHA256=$(sha256sum "$SYNWHY" | cut -d' ' -f1)
{
    printf 'KVER=%q\nMODDIR=%q\nKMOD=%q\nGUEST=%q\n' "$KVER" "$MODDIR" "$GUEST_KMOD" "$GUEST_SCRIPT"
    printf 'BUILD=%q\nSYNWHY=%q\nSYNWHY_SHA256=%q\n' "$BUILD" "$SYNWHY" "$SYNWHY_SHA256"
    printf 'TESTS=%q\nTIMEOUT_SCALE=%q\n' "$TESTS" "$TIMEOUT_SCALE"
    # The tree the guest needs, kept visible where the guest gets fresh tmpfs (a clone in /tmp).
    printf 'KEEP=%q\n' "$ROOT $BUILD $(dirname "$SYNWHY")"
    # Another architecture: the guest's root is its own; these host paths are shared beside it
    # (9p tag hosttree) at the same paths. The result lines go to a virtio console.
    if [ -n "$ROOTFS" ]; then
        printf 'BIND=%q\nRESULTS_TTY=/dev/hvc0\n' "$ROOT $BUILD $(dirname "$SYNWHY")"
    fi
} >"$RUN/initramfs/vmtest.conf"
(cd "$RUN/initramfs" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1 >"$RUN/initramfs.cpio.gz") ||
    die "cannot build the initramfs"
t_initramfs=$(since "$t")

echo "$PROG: kernel $SERIES: $KPKG ($(basename "$kdeb"), apt: $KSET), modules for 9p: $(tr '\n' ' ' <"$RUN/initramfs/modules/order")"
echo "$PROG: download ${t_download} s, unpack+depmod ${t_unpack} s ($cache_state), initramfs ${t_initramfs} s"
[ -z "$ROOTFS" ] || echo "$PROG: $DARCH root $ROOTFS ($(du -sh "$ROOTFS" | cut -f1)), ready in ${t_rootfs} s"
echo "$PROG: synwhy $SYNWHY sha256 $SYNWHY_SHA256"
echo "$PROG: tests: $TESTS"

# ---------------------------------------------------------------------------------------------
# Boot. ttyS0 is the console (streamed, saved in console.log); ttyS1 carries only the guest's
# result lines (results.txt).

CONSOLE=$CACHE/console.log
RESULTS=$RUN/results.txt
: >"$CONSOLE"
: >"$RESULTS"
accel=tcg
[ "$SMP" -gt 1 ] && accel=tcg,thread=multi
# shellcheck disable=SC2054 # (QEMU's options take commas)
if [ "$DARCH" = amd64 ]; then
    qemu=(
        qemu-system-x86_64 -machine pc -accel "$accel" -smp "$SMP" -m "$MEM"
        -kernel "$VMLINUZ" -initrd "$RUN/initramfs.cpio.gz"
        -append "console=ttyS0,115200 loglevel=4 panic=-1 rdinit=/init"
        -display none -vga none -monitor none -nic none -no-reboot
        -serial stdio -serial "file:$RESULTS"
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    )
    # qboot (shipped with qemu) boots a -kernel faster than SeaBIOS, which emulation makes slow.
    [ -f /usr/share/qemu/qboot.rom ] && qemu+=(-bios /usr/share/qemu/qboot.rom)
else
    # The virt machine boots the kernel's Image directly (no firmware). -cpu max with the
    # implementation-defined pointer authentication: the architected one (QARMA) is slow in TCG.
    qemu=(
        qemu-system-aarch64 -machine virt -cpu max,pauth-impdef=on -accel "$accel" -smp "$SMP" -m "$MEM"
        -kernel "$VMLINUZ" -initrd "$RUN/initramfs.cpio.gz"
        -append "console=ttyAMA0 loglevel=4 panic=-1 rdinit=/init"
        -display none -monitor none -nic none -no-reboot
        -serial stdio
        -device virtio-serial-pci -chardev "file,id=results,path=$RESULTS" -device virtconsole,chardev=results
        -virtfs "local,path=$ROOTFS,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs local,path=/,mount_tag=hosttree,security_model=none,readonly=on,multidevs=remap
    )
fi
printf '%s: booting:' "$PROG"
printf ' %q' "${qemu[@]}"
echo

QEMU_PID=""
TAIL_PID=""
# shellcheck disable=SC2317 # (a trap)
stop() {
    [ -n "$QEMU_PID" ] && kill -TERM "$QEMU_PID" 2>/dev/null
    [ -n "$TAIL_PID" ] && kill -TERM "$TAIL_PID" 2>/dev/null
    exit 130
}
trap stop INT TERM

t_boot=$(now)
timeout -k 10 "$TOTAL_TIMEOUT" "${qemu[@]}" </dev/null >"$CONSOLE" 2>"$RUN/qemu.err" &
QEMU_PID=$!
if [ "${VMTEST_QUIET:-0}" != 1 ]; then
    tail -n +1 -f --pid="$QEMU_PID" "$CONSOLE" | tr -d '\r' &
    TAIL_PID=$!
fi
boot_s=""
while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ -z "$boot_s" ] && grep -q '^START ' "$RESULTS" 2>/dev/null; then boot_s=$(since "$t_boot"); fi
    sleep 0.5
done
set +e
wait "$QEMU_PID"
qrc=$?
set -e
QEMU_PID=""
[ -z "$TAIL_PID" ] || wait "$TAIL_PID" 2>/dev/null || true
TAIL_PID=""
t_run=$(since "$t_boot")
tr -d '\r' <"$RESULTS" >"$RUN/results.clean"
cp "$RUN/results.clean" "$CACHE/results.txt"
if [ -z "$boot_s" ] && grep -q '^START ' "$RUN/results.clean"; then boot_s="?"; fi

# ---------------------------------------------------------------------------------------------
# Report.

echo
echo "=== vmtest summary (--kernel $SERIES: $KPKG, $DARCH guest $SMP CPU, $MEM MiB, TCG)"
status=0
field() { sed -n "s/^$1 //p" "$RUN/results.clean"; }
if grep -q '^INIT-FAILED ' "$RUN/results.clean"; then
    echo "guest init failed: $(field INIT-FAILED | head -n1)"
    status=3
fi
field INFO | sed 's/^/guest: /'
guest_up=$(field START | awk '{print $1}')
echo "boot: guest script started ${boot_s:-never} s after qemu started (guest uptime ${guest_up:-?} s)"
echo "synwhy --version (guest):"
field VERSION | sed 's/^/  /'
echo "synwhy doctor (guest):"
field DOCTOR | sed 's/^/  /'
planned=$(field PLAN | head -n1)
printf '%-34s %-5s %8s  %s\n' test result seconds detail
field RESULT | while read -r verdict name secs why; do
    printf '%-34s %-5s %8s  %s\n' "$name" "$verdict" "$secs" "$why"
done
npass=$(grep -c '^RESULT PASS ' "$RUN/results.clean" || true)
nfail=$(grep -c '^RESULT FAIL ' "$RUN/results.clean" || true)
echo "tracepoints and enums (the guest kernel's BTF):"
field TRACEPOINT | sed 's/^/  /'
echo "kernel signals (synwhy report --json in the guest):"
sig=$(field SIGNALS | head -n1)
if [ -n "$sig" ]; then
    echo "  $sig"
else
    echo "  (none reported)"
fi
done_line=$(field DONE | head -n1)
echo "download ${t_download} s + unpack ${t_unpack} s ($cache_state); boot to guest script ${boot_s:-?} s; tests+boot ${t_run} s; qemu exit $qrc"

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
    echo "FAIL: the guest did not finish within $TOTAL_TIMEOUT s (VMTEST_TIMEOUT)"
    status=3
elif [ -z "$done_line" ]; then
    echo "FAIL: the guest stopped before the end (qemu exit $qrc; $(tail -n3 "$RUN/qemu.err" 2>/dev/null | tr '\n' ' '))"
    echo "      last console lines:"
    tr -d '\r' <"$CONSOLE" | tail -n 15 | sed 's/^/      /'
    status=3
fi
if [ "$nfail" -gt 0 ]; then
    status=1
elif [ "$status" -eq 0 ] && [ -n "$planned" ] && [ "$npass" -lt "$planned" ]; then
    echo "FAIL: $npass of $planned tests reported a result"
    status=1
fi
if [ "$status" -eq 0 ] && [ "$npass" -eq 0 ]; then
    echo "FAIL: no test ran"
    status=1
fi
# Kept per series too: a matrix run (5.10, 6.1, 6.12 one after the other) keeps each one's logs.
cp "$CONSOLE" "$CACHE/console-$SERIES.log"
cp "$RUN/results.clean" "$CACHE/results-$SERIES.txt"
echo "console log: $CONSOLE ($CACHE/console-$SERIES.log); results: $CACHE/results.txt ($CACHE/results-$SERIES.txt)"
if [ "$status" -eq 0 ]; then
    echo "PASS: $npass tests passed on $KVER"
else
    echo "FAIL: $npass passed, $nfail failed on $KVER (exit $status)"
fi
exit "$status"
