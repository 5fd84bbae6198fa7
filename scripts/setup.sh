#!/usr/bin/env bash
# Installs what synwhy needs to build, run and be tested on Debian 12, then builds it into build/.
# Idempotent and non-interactive (CI runs it as root with no stdin).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs packages with apt-get)" >&2
    exit 1
fi

packages=(
    # build
    cmake make g++ clang llvm pkg-config bpftool
    # libFuzzer for clang 14 (scripts/fuzz.sh); a Recommends of clang, so named here
    libclang-rt-14-dev
    libbpf-dev libelf-dev zlib1g-dev libcli11-dev libfmt-dev nlohmann-json3-dev
    libmnl-dev libnftnl-dev libnftables-dev libsystemd-dev libgtest-dev libgmock-dev libpcap-dev
    # packaging (cpack's .deb generator)
    dpkg-dev file
    # the lab and the end-to-end tests: real sshd, real firewalls, real clients
    openssh-server openssh-client nftables iptables ufw firewalld iproute2 iputils-ping netcat-openbsd jq procps
    # the lab's VLAN topology: VLAN offload off on the veth ends
    ethtool
    conntrack tshark prometheus hping3
    # the client-side probe lab (scripts/probelab.sh): a name server for the wrong-address scenarios
    dnsmasq-base
    # hostile and scale tests: capsh (drops capabilities), python3 (10,000 listeners, process churn)
    libcap2-bin python3
    # the 6.1 kernel test (scripts/vmtest.sh)
    qemu-system-x86
    # the systemd server lab (scripts/syslab.sh): a Debian 12 root booted in systemd-nspawn
    mmdebstrap systemd-container
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
