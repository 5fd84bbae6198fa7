#!/usr/bin/env bash
# Regenerates bpf/vmlinux/<arch>/vmlinux.h from a kernel's BTF. The header is committed so that
# the build never depends on the build machine's kernel; CO-RE relocates field offsets at load
# time on whatever kernel synwhy runs on. Usage: scripts/gen-vmlinux.sh [BTF_FILE]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
btf=${1:-/sys/kernel/btf/vmlinux}
case "$(uname -m)" in
    x86_64) arch=x86 ;;
    aarch64) arch=arm64 ;;
    *) echo "gen-vmlinux.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
mkdir -p "bpf/vmlinux/$arch"
bpftool btf dump file "$btf" format c > "bpf/vmlinux/$arch/vmlinux.h.tmp"
mv "bpf/vmlinux/$arch/vmlinux.h.tmp" "bpf/vmlinux/$arch/vmlinux.h"
echo "wrote bpf/vmlinux/$arch/vmlinux.h from $btf ($(uname -r))"
