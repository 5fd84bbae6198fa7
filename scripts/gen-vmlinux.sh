#!/usr/bin/env bash
# Regenerates bpf/vmlinux/<arch>/vmlinux.h from a kernel's BTF. The header is committed so that
# the build never depends on the build machine's kernel; CO-RE relocates field offsets at load
# time on whatever kernel synwhy runs on.
# Usage: scripts/gen-vmlinux.sh [--arch x86|arm64] [BTF_FILE | KERNEL_IMAGE]
#   BTF_FILE      raw BTF, e.g. /sys/kernel/btf/vmlinux (the default: this machine's kernel)
#   KERNEL_IMAGE  a kernel image that embeds its BTF (CONFIG_DEBUG_INFO_BTF), e.g. the
#                 /boot/vmlinuz-* of a Debian linux-image package, for another architecture
#                 (arm64's is an uncompressed Image; a gzip'ed one is decompressed first)
#   --arch        the header's architecture (default: this machine's)
# bpf/vmlinux/arm64/vmlinux.h comes from Debian 12's linux-image-6.1.0-N-arm64-unsigned:
#   scripts/gen-vmlinux.sh --arch arm64 build-arm64/vmtest/kernel/linux-image-*-arm64-unsigned/boot/vmlinuz-*
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
case "$(uname -m)" in
    x86_64) arch=x86 ;;
    aarch64) arch=arm64 ;;
    *) arch="" ;;
esac
if [ "${1:-}" = --arch ]; then
    arch=${2:-}
    shift 2 || true
fi
case $arch in
    x86 | arm64) ;;
    *) echo "gen-vmlinux.sh: unsupported architecture '${arch:-$(uname -m)}' (--arch x86|arm64)" >&2; exit 1 ;;
esac
src=${1:-/sys/kernel/btf/vmlinux}
btf=$src
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Raw BTF starts with its magic 0xeB9F (little-endian: 9f eb). Anything else is taken as a kernel
# image: its .BTF section is the one BTF blob in it (header: magic, version 1, flags, hdr_len 24,
# type_off 0, type_len, str_off == type_len, str_len).
if [ "$(head -c2 "$src" | od -An -tx1 | tr -d ' ')" != 9feb ]; then
    img=$src
    if [ "$(head -c2 "$src" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
        gzip -dc "$src" >"$tmp/Image"
        img=$tmp/Image
    fi
    python3 - "$img" "$tmp/btf" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
found, i = [], 0
while (i := data.find(b"\x9f\xeb\x01\x00\x18\x00\x00\x00", i)) >= 0:
    _, type_off, type_len, str_off, str_len = struct.unpack_from("<IIIII", data, i + 4)
    if type_off == 0 and str_off == type_len and i + 24 + str_off + str_len <= len(data):
        found.append((i, 24 + str_off + str_len))
    i += 1
if len(found) != 1:
    sys.exit(f"gen-vmlinux.sh: {len(found)} BTF blobs in {sys.argv[1]}, expected one")
off, size = found[0]
open(sys.argv[2], "wb").write(data[off:off + size])
print(f"BTF: {size} bytes at offset {off} of {sys.argv[1]}")
PY
    btf=$tmp/btf
fi
mkdir -p "bpf/vmlinux/$arch"
bpftool btf dump file "$btf" format c > "bpf/vmlinux/$arch/vmlinux.h.tmp"
mv "bpf/vmlinux/$arch/vmlinux.h.tmp" "bpf/vmlinux/$arch/vmlinux.h"
if [ "$src" = /sys/kernel/btf/vmlinux ]; then from="$src ($(uname -r))"; else from=$src; fi
echo "wrote bpf/vmlinux/$arch/vmlinux.h from $from"
