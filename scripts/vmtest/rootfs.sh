#!/usr/bin/env bash
# Builds (once) the Debian 12 root filesystem of a foreign-architecture vmtest guest
# (scripts/vmtest.sh --arch arm64): the guest cannot run this host's x86 userland, so it boots an
# arm64 one, with the project's tree and build shared from the host beside it.
#
# Usage: scripts/vmtest/rootfs.sh ARCH CACHE_DIR MIRROR SECURITY_MIRROR
# Prints the root's directory, CACHE_DIR/rootfs-ARCH-KEY, where KEY hashes the architecture, the
# suites and the package list below: a new list makes a new root; an old one stays until the cache
# is deleted. mmdebstrap (root mode) runs the packages' maintainer scripts under qemu-user
# (qemu-user-static, binfmt_misc): this script mounts binfmt_misc and registers qemu-ARCH when they
# are missing (a machine-wide setting; it changes nothing else on the host).
set -euo pipefail
PROG=vmtest/rootfs.sh
die() {
    echo "$PROG: $*" >&2
    exit 3
}
[ $# -eq 4 ] || die "usage: $PROG ARCH CACHE_DIR MIRROR SECURITY_MIRROR"
ARCH=$1 CACHE=$2 MIRROR=$3 SECURITY_MIRROR=$4
case $ARCH in
arm64) QARCH=aarch64 ;;
*) die "no root filesystem recipe for $ARCH" ;;
esac

# What the guest script and the core scenarios run (scripts/vmtest-guest.sh, scripts/lab.sh,
# tests/e2e/): ctest (cmake) and jq, the lab's ip/nft/sshd/ssh/nc/nstat/sysctl/ethtool, kmod
# (the kernel's modprobe), bpftool; busybox-static for the initramfs; and the libraries synwhy
# links (its .deb's Depends).
PACKAGES=(
    bash coreutils procps iproute2 iputils-ping nftables openssh-server openssh-client
    netcat-openbsd ethtool conntrack kmod jq cmake bpftool busybox-static
    libbpf1 libelf1 zlib1g libmnl0 libnftnl11 libnftables1 libsystemd0 libpcap0.8 libfmt9
    libstdc++6 libgcc-s1
)
SOURCES=(
    "deb $MIRROR bookworm main"
    "deb $MIRROR bookworm-updates main"
    "deb $SECURITY_MIRROR bookworm-security main"
)
key=$(printf '%s\n' "$ARCH" "${SOURCES[@]}" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
DIR=$CACHE/rootfs-$ARCH-$key
if [ -f "$DIR/.complete" ]; then
    echo "$DIR"
    exit 0
fi

command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
[ -x /usr/bin/qemu-$QARCH-static ] || die "qemu-user-static is not installed (apt-get install qemu-user-static)"
binfmt=/proc/sys/fs/binfmt_misc
if ! [ -e "$binfmt/register" ]; then
    mount -t binfmt_misc binfmt_misc "$binfmt" || die "cannot mount binfmt_misc on $binfmt"
fi
if ! [ -e "$binfmt/qemu-$QARCH" ]; then
    conf=/usr/lib/binfmt.d/qemu-$QARCH.conf
    [ -f "$conf" ] || die "no $conf (qemu-user-static)"
    cat "$conf" >"$binfmt/register" || die "cannot register qemu-$QARCH with binfmt_misc"
    echo "$PROG: registered qemu-$QARCH with binfmt_misc" >&2
fi
grep -q '^enabled' "$binfmt/qemu-$QARCH" || die "binfmt_misc's qemu-$QARCH is disabled"

rm -rf "$DIR.tmp"
mkdir -p "$CACHE"
t=$(date +%s)
echo "$PROG: building the $ARCH root in $DIR (mmdebstrap under qemu-user: minutes)" >&2
# No daemons start (policy-rc.d), no documentation; the initramfs replaces init.
mmdebstrap --quiet --mode=root --arch="$ARCH" --variant=essential \
    --include="$(
        IFS=,
        echo "${PACKAGES[*]}"
    )" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$DIR.tmp" "${SOURCES[@]}" >&2 || die "mmdebstrap failed"
# sshd's privilege separation directory is made by its unit; the lab starts sshd by hand.
mkdir -p "$DIR.tmp/run/sshd"
echo "$ARCH ${PACKAGES[*]}" >"$DIR.tmp/.complete"
mv "$DIR.tmp" "$DIR"
echo "$PROG: $ARCH root built in $(($(date +%s) - t)) s, $(du -sh "$DIR" | cut -f1)" >&2
echo "$DIR"
