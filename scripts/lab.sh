#!/usr/bin/env bash
# A two-namespace lab of broken SSH servers, for the demo and the end-to-end tests.
#
# A client namespace and a server namespace are joined by a veth pair; the server side is then set
# up as one named failure scenario (a real OpenSSH sshd where the scenario has one, real nftables or
# iptables-legacy rules where it has those). Nothing touches the root namespace's network, so the
# lab is safe on a closed machine and several labs (different LAB_PREFIX) can coexist. The one
# exception is conntrack-full: it lowers the global nf_conntrack_max, and teardown restores it.
#
# Usage:
#   lab.sh up SCENARIO             build the lab (tears down any previous lab with this prefix)
#   lab.sh down                    remove everything this prefix made; always exits 0
#   lab.sh list                    scenario names with a one-line description
#   lab.sh target 4|6              the address the client should connect to in this scenario
#   lab.sh port                    the port the client connects to (always 22)
#   lab.sh connect 4|6 [TIMEOUT]   one real ssh attempt from the client; prints ssh's error line
#   lab.sh srv CMD... / cli CMD... run CMD in the server / client namespace
#   lab.sh can vlan|ipvlan|bond    exit 0 when this kernel makes that topology's interfaces
#
# Environment: LAB_PREFIX (default synwhy) names the namespaces (PREFIX-srv, PREFIX-cli) and the
# state dir /run/synwhy-lab/PREFIX/ (sshd_config, host key, pid file, log, scenario name).
# LAB_TOPOLOGY puts the server's addresses on something else than its veth: `bridge` (a Linux
# bridge br-lab whose port is the veth, as on a KVM or Docker host) or `vlan` (802.1Q VLAN 100 on
# both veth ends, tagged in the packet: no VLAN offload) or `macvlan` (a macvlan in the server's
# namespace whose lower device, the veth, is in a third namespace PREFIX-low, as a macvlan
# container's is in its host's) or `ipvlan` (the same with an ipvlan, L2 mode: the kernel's ipvlan
# module, which not every kernel has; see `lab.sh can ipvlan`) or `bond` (an active-backup bond
# bond0 whose only slave is the veth, as on a server with bonded NICs); `plain` (default) is the
# bare veth.
set -euo pipefail

PROG=lab.sh
LAB_DIR=$(dirname "$(readlink -f "$0")")
PREFIX=${LAB_PREFIX:-synwhy}
# The prefix ends up in file names and namespace names: keep it to a safe, short alphabet.
if ! [[ $PREFIX =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$ ]]; then
    echo "$PROG: LAB_PREFIX '$PREFIX' must be 1-48 characters of [A-Za-z0-9_.-]" >&2
    exit 2
fi
SRV_NS="${PREFIX}-srv"
CLI_NS="${PREFIX}-cli"
CTR_NS="${PREFIX}-ctr" # a "container": a third namespace with its own sshd (container-unpublished)
LOWER_NS="${PREFIX}-low" # LAB_TOPOLOGY=macvlan/ipvlan/ipvlan-l3: the namespace of the lower device
STATE_ROOT=/run/synwhy-lab
STATE="$STATE_ROOT/$PREFIX"
# The veth ends have fixed names: each lives only inside its own namespace (it is created there
# directly, never in the root namespace), so two labs never clash over an interface name.
SRV_IF=veth-srv
CLI_IF=veth-cli
TOPOLOGY=${LAB_TOPOLOGY:-plain}
case $TOPOLOGY in
plain | bridge | vlan | macvlan | ipvlan | ipvlan-l3 | bond) ;;
*)
    echo "$PROG: LAB_TOPOLOGY '$TOPOLOGY' must be plain, bridge, vlan, macvlan, ipvlan, ipvlan-l3 or bond" >&2
    exit 2
    ;;
esac
LAB_BRIDGE=br-lab
LAB_BOND=bond0
LAB_VLAN=100
# The interfaces that hold the addresses: the veth ends, or the bridge / VLAN interfaces on them.
SRV_DEV=$SRV_IF
CLI_DEV=$CLI_IF
case $TOPOLOGY in
bridge) SRV_DEV=$LAB_BRIDGE ;;
bond) SRV_DEV=$LAB_BOND ;;
macvlan) SRV_DEV=mv-srv ;;
ipvlan | ipvlan-l3) SRV_DEV=iv-srv ;;
vlan)
    SRV_DEV=$SRV_IF.$LAB_VLAN
    CLI_DEV=$CLI_IF.$LAB_VLAN
    ;;
esac
SRV4=192.0.2.2
CLI4=192.0.2.1
SRV6=2001:db8::2
CLI6=2001:db8::1
# Addresses in the lab's subnets that nobody holds, for the wrong-ip scenario.
WRONG4=192.0.2.3
WRONG6=2001:db8::3
# vip-*: a service address the client routes through the server, which holds no such address
# and DNATs it to its own (a VIP routed to a host, as a load balancer or kube-proxy's are).
VIP4=203.0.113.10
VIP6=2001:db8:9::10
SSH_PORT=22
# The Docker-like host (docker-*): a bridge with the container's veth as its port, the container's
# addresses, and the admin range DOCKER-USER lets through (the lab's client is not in it).
DOCKER_BRIDGE=docker0
DOCKER_HOST4=198.51.100.1
DOCKER_CTR4=198.51.100.2
DOCKER_NET4=198.51.100.0/24
DOCKER_HOST6=2001:db8:1::1
DOCKER_CTR6=2001:db8:1::2
DOCKER_NET6=2001:db8:1::/64
DOCKER_ADMIN4=203.0.113.0/24
DOCKER_ADMIN6=2001:db8:5::/64
DOCKER_PUBLISHED=2222
SSHD=/usr/sbin/sshd # sshd must be started by absolute path (it re-executes itself)
# conntrack-full: nf_conntrack_max is one global limit (read-only in other namespaces) that the
# kernel compares with each namespace's own count. The scenario lowers it to CT_FULL_MAX, saving
# the old value in CT_SAVED, and `down` (any teardown) puts it back. Refused while the root
# namespace, or another named one, holds more than CT_BUSY entries: the host keeps its margin.
CT_SYSCTL=/proc/sys/net/netfilter/nf_conntrack_max
CT_FULL_MAX=256
CT_BUSY=64
CT_SAVED_NAME=nf_conntrack_max.saved
CT_SAVED="$STATE/$CT_SAVED_NAME"

# Scenario table: name, then description. Order is the order `list` prints.
SCENARIOS=(
    healthy "sshd on :22, both families; connections reach authentication"
    sshd-stopped "sshd installed and configured but not running"
    sshd-other-port "sshd listening on :2222 instead of :22"
    sshd-loopback-only "sshd bound to 127.0.0.1 and ::1 only"
    nft-drop "healthy sshd, nftables silently drops tcp dport 22"
    nft-reject-rst "healthy sshd, nftables rejects tcp dport 22 with a TCP reset"
    nft-reject-icmp "healthy sshd, nftables rejects tcp dport 22 with ICMP port unreachable"
    iptables-legacy-drop "healthy sshd, iptables-legacy/ip6tables-legacy drop tcp dport 22"
    wrong-ip "healthy sshd, but the client targets an address nobody holds"
    nft-jump-drop "healthy sshd; input jumps to chain ssh_guard, whose commented rule drops :22"
    nft-policy-drop "healthy sshd; input has policy drop and accepts only other ports"
    nft-output-drop "healthy sshd; an output rule drops the SYN-ACKs from :22"
    iptables-nft-drop "healthy sshd; iptables-nft/ip6tables-nft -j DROP on :22"
    iptables-nft-reject "healthy sshd; iptables-nft/ip6tables-nft -j REJECT --reject-with tcp-reset on :22"
    iptables-legacy-chain-drop "healthy sshd; iptables-legacy INPUT jumps to SSH_GUARD, which drops :22"
    ufw-deny "healthy sshd; the real ufw, enabled in the server namespace, with \`ufw deny 22/tcp\`"
    firewalld-deny "healthy sshd; the real firewalld, run in the server namespace, zone public without ssh"
    handshake-lost "healthy sshd; the client's own firewall drops the SYN-ACKs"
    sshd-wedged "sshd stopped with SIGSTOP, its accept queue filled by real connections"
    rp-filter "healthy sshd; the client connects from an address the server routes elsewhere (IPv4)"
    container-unpublished "no sshd on the server; one listens on :22 in a container's netns, port not published"
    container-published "no sshd on the server; the container's sshd is published as :2222 (DNAT)"
    docker-published "a Docker-like host: bridge docker0, container sshd published as :2222 by iptables-nft DOCKER rules"
    docker-user-drop "docker-published, and a DOCKER-USER rule drops what does not come from the admin range"
    docker-ctr-stopped "docker-published, but the container's sshd is not running"
    docker-unpublished "a Docker-like host whose container sshd on :22 is not published; no sshd on the host"
    sshd-crash "healthy sshd, until \`lab.sh crash\` kills it with SIGSEGV"
    tc-drop "healthy sshd; a tc ingress BPF program on the server's interface drops :22"
    xdp-drop "healthy sshd; an XDP program (generic) on the server's interface drops :22"
    conntrack-full "healthy sshd; the server's conntrack table is full (global nf_conntrack_max lowered)"
    vip-dnat "healthy sshd; the client connects to a VIP routed to the server, which DNATs it to its own address"
    vip-dnat-drop "vip-dnat, and an input rule drops :22 after the DNAT"
    vip-dnat-stopped "vip-dnat, but sshd is not running"
)

usage() {
    cat >&2 <<'EOF'
usage: lab.sh up SCENARIO | down | list | target 4|6 | port | connect 4|6 [TIMEOUT_S]
       lab.sh crash | can vlan|ipvlan|bond | srv CMD... | cli CMD...
EOF
    exit 2
}

is_scenario() {
    local i
    for ((i = 0; i < ${#SCENARIOS[@]}; i += 2)); do
        [ "${SCENARIOS[i]}" = "$1" ] && return 0
    done
    return 1
}

ns_exists() {
    [ -e "/run/netns/$1" ]
}

# The scenario of the lab that is up, or a clear error when there is none.
current_scenario() {
    if ! [ -f "$STATE/scenario" ] || ! ns_exists "$SRV_NS" || ! ns_exists "$CLI_NS"; then
        echo "$PROG: no lab is up for LAB_PREFIX=$PREFIX (run: $PROG up SCENARIO)" >&2
        exit 1
    fi
    cat "$STATE/scenario"
}

check_family() {
    case ${1:-} in
    4 | 6) ;;
    *) usage ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Teardown. Must be safe to run at any point (half-built lab, nothing at all) and leave nothing.

# Sends SIG to every pid given, ignoring ones that have already gone.
signal_pids() {
    local sig=$1 pid
    shift
    for pid in "$@"; do
        kill "-$sig" "$pid" 2>/dev/null || true
    done
}

# Pids of processes in namespace NS, never including this script itself.
ns_pids() {
    local pid
    ns_exists "$1" || return 0
    for pid in $(ip netns pids "$1" 2>/dev/null || true); do
        [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || echo "$pid"
    done
}

# True if PID exists and, with "running", has not yet exited (a zombie has exited: it only waits
# to be reaped, which a slow init may take a second or so to do).
pid_alive() {
    local pid=$1 how=${2:-exists} state
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$how" = running ] || return 0
    state=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$state" ] && [ "$state" != Z ]
}

# wait_gone N HOW PID...: waits up to N tenths of a second until no pid is alive in the sense of
# pid_alive HOW; fails if some still are.
wait_gone() {
    local n=$1 how=$2 pid alive
    shift 2
    while :; do
        alive=0
        for pid in "$@"; do
            if pid_alive "$pid" "$how"; then
                alive=1
                break
            fi
        done
        [ "$alive" -eq 0 ] && return 0
        [ "$n" -gt 0 ] || return 1
        n=$((n - 1))
        sleep 0.1
    done
}

# Puts back the global nf_conntrack_max saved in FILE (conntrack-full) and removes FILE. Keeps FILE
# and fails if the value cannot be written back.
restore_conntrack_max() {
    local file=$1 saved
    [ -f "$file" ] || return 0
    saved=$(head -n1 "$file" 2>/dev/null || true)
    if [[ $saved =~ ^[0-9]+$ ]]; then
        if ! echo "$saved" >"$CT_SYSCTL"; then
            echo "$PROG: cannot restore nf_conntrack_max to $saved (saved in $file)" >&2
            return 1
        fi
    fi
    rm -f "$file"
}

teardown() {
    local pid pids=() ns ct_kept=0

    # The host-wide limit first, before anything that could stop this teardown half-way.
    restore_conntrack_max "$CT_SAVED" || ct_kept=1
    if ns_exists "$SRV_NS" && ip netns exec "$SRV_NS" nft list table inet lab_ct >/dev/null 2>&1; then
        timeout 5 ip netns exec "$SRV_NS" conntrack -F >/dev/null 2>&1 || true
    fi

    # The sshd from the pid file, but only if that pid is still our sshd (the pid file may be
    # stale and its number reused): its command line names our config file.
    if [ -f "$STATE/sshd.pid" ]; then
        pid=$(head -n1 "$STATE/sshd.pid" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$STATE/sshd_config"; then
            pids+=("$pid")
        fi
    fi
    # Everything else living in our namespaces (sshd sessions, leftover `srv`/`cli` commands).
    for ns in "$SRV_NS" "$CLI_NS" "$CTR_NS" "$LOWER_NS"; do
        while read -r pid; do
            [ -n "$pid" ] && pids+=("$pid")
        done < <(ns_pids "$ns")
    done

    if [ ${#pids[@]} -gt 0 ]; then
        # Bounded grace period, then force, then a bounded wait for the exits (and for the reaper
        # to collect them) so that a check right after `down` finds nothing.
        signal_pids TERM "${pids[@]}"
        wait_gone 20 running "${pids[@]}" || signal_pids KILL "${pids[@]}"
        wait_gone 30 exists "${pids[@]}" || true
    fi

    # Deleting a namespace destroys its veth end (and with it the peer), its nft tables and its
    # iptables-legacy rules: nothing of the lab lives in the root namespace.
    for ns in "$SRV_NS" "$CLI_NS" "$CTR_NS" "$LOWER_NS"; do
        if ns_exists "$ns"; then
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    if [ "$ct_kept" -eq 1 ]; then
        # Only the saved limit stays, for the next `down` to retry.
        find "$STATE" -mindepth 1 -maxdepth 1 ! -name "$CT_SAVED_NAME" -exec rm -rf {} + 2>/dev/null || true
    else
        rm -rf "$STATE"
    fi
    # The parent is shared by all prefixes: remove it only once the last lab is gone.
    rmdir "$STATE_ROOT" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Build steps. Each reports failures on stderr; cmd_up turns the last line into its one-line error.

fail() {
    echo "$*" >&2
    exit 1
}

build_network() {
    # The server's veth end is in its own namespace, except under a macvlan/ipvlan (in the lower one).
    local veth_ns=$SRV_NS
    ip netns add "$SRV_NS"
    ip netns add "$CLI_NS"
    if [[ $TOPOLOGY == macvlan || $TOPOLOGY == ipvlan* ]]; then
        ip netns add "$LOWER_NS"
        ip -n "$LOWER_NS" link set lo up
        veth_ns=$LOWER_NS
    fi
    # Create the pair with each end already inside its namespace (see SRV_IF above).
    ip link add "$SRV_IF" netns "$veth_ns" type veth peer name "$CLI_IF" netns "$CLI_NS"
    ip -n "$SRV_NS" link set lo up
    ip -n "$CLI_NS" link set lo up
    ip -n "$veth_ns" link set "$SRV_IF" up
    ip -n "$CLI_NS" link set "$CLI_IF" up
    case $TOPOLOGY in
    macvlan)
        # Made next to its lower device, then moved into the server's namespace, as a container
        # runtime does.
        ip -n "$LOWER_NS" link add "$SRV_DEV" link "$SRV_IF" type macvlan mode bridge
        ip -n "$LOWER_NS" link set "$SRV_DEV" netns "$SRV_NS"
        ip -n "$SRV_NS" link set "$SRV_DEV" up
        ;;
    ipvlan | ipvlan-l3)
        # L2 mode: the ipvlan answers ARP and ND itself, with its lower device's MAC address.
        # L3 mode: it answers neither (NOARP), and what it sends is routed in the lower device's
        # namespace, as on a host that routes for its ipvlan containers: that namespace holds an
        # address of the subnet, and the client knows the server's MAC statically.
        local mode=l2
        [ "$TOPOLOGY" = ipvlan ] || mode=l3
        ip -n "$LOWER_NS" link add "$SRV_DEV" link "$SRV_IF" type ipvlan mode "$mode"
        ip -n "$LOWER_NS" link set "$SRV_DEV" netns "$SRV_NS"
        ip -n "$SRV_NS" link set "$SRV_DEV" up
        ;;
    bridge)
        # No STP: the port forwards at once.
        ip -n "$SRV_NS" link add "$LAB_BRIDGE" type bridge stp_state 0
        ip -n "$SRV_NS" link set "$SRV_IF" master "$LAB_BRIDGE"
        ip -n "$SRV_NS" link set "$LAB_BRIDGE" up
        ;;
    bond)
        # A slave must be down to be enslaved; the bond brings it up.
        ip -n "$SRV_NS" link add "$LAB_BOND" type bond mode active-backup miimon 100
        ip -n "$SRV_NS" link set "$SRV_IF" down
        ip -n "$SRV_NS" link set "$SRV_IF" master "$LAB_BOND"
        ip -n "$SRV_NS" link set "$LAB_BOND" up
        ;;
    vlan)
        # Tags written into the packet by the sender (txvlan off), so the server's stack meets a
        # 0x8100 frame and untags it itself, as behind a NIC without VLAN offload.
        ip netns exec "$CLI_NS" ethtool -K "$CLI_IF" txvlan off >/dev/null
        ip netns exec "$SRV_NS" ethtool -K "$SRV_IF" txvlan off rxvlan off >/dev/null
        ip -n "$SRV_NS" link add link "$SRV_IF" name "$SRV_DEV" type vlan id "$LAB_VLAN"
        ip -n "$CLI_NS" link add link "$CLI_IF" name "$CLI_DEV" type vlan id "$LAB_VLAN"
        ip -n "$SRV_NS" link set "$SRV_DEV" up
        ip -n "$CLI_NS" link set "$CLI_DEV" up
        ;;
    esac

    ip -n "$SRV_NS" addr add "$SRV4/24" dev "$SRV_DEV"
    # nodad: the address is usable at once instead of after duplicate address detection.
    ip -n "$SRV_NS" addr add "$SRV6/64" dev "$SRV_DEV" nodad
    ip -n "$CLI_NS" addr add "$CLI4/24" dev "$CLI_DEV"
    ip -n "$CLI_NS" addr add "$CLI6/64" dev "$CLI_DEV" nodad
    if [ "$TOPOLOGY" = ipvlan-l3 ]; then
        local mac
        mac=$(ip -n "$LOWER_NS" -br link show "$SRV_IF" | awk '{print $3}')
        ip -n "$LOWER_NS" addr add 192.0.2.254/24 dev "$SRV_IF"
        ip -n "$LOWER_NS" addr add 2001:db8::fe/64 dev "$SRV_IF" nodad
        ip -n "$CLI_NS" neigh replace "$SRV4" lladdr "$mac" dev "$CLI_DEV" nud permanent
        ip -n "$CLI_NS" neigh replace "$SRV6" lladdr "$mac" dev "$CLI_DEV" nud permanent
    fi
}

# The rules Docker (iptables-nft backend) writes for one container on the default bridge with
# `-p PUBLISHED:22`, in dockerd's order, for FAMILY 4 or 6 (ip6tables, as Docker 27+ writes them).
# PUBLISHED empty: the container publishes nothing.
docker_rules() {
    local family=$1 published=$2 net ctr admin to local_dst
    if [ "$family" = 4 ]; then
        net=$DOCKER_NET4 ctr=$DOCKER_CTR4/32 admin=$DOCKER_ADMIN4 to=$DOCKER_CTR4:22 local_dst=127.0.0.0/8
    else
        net=$DOCKER_NET6 ctr=$DOCKER_CTR6/128 admin=$DOCKER_ADMIN6 to=[$DOCKER_CTR6]:22 local_dst=::1/128
    fi
    echo "*nat"
    echo ":PREROUTING ACCEPT [0:0]"
    echo ":OUTPUT ACCEPT [0:0]"
    echo ":POSTROUTING ACCEPT [0:0]"
    echo ":DOCKER - [0:0]"
    echo "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"
    echo "-A OUTPUT ! -d $local_dst -m addrtype --dst-type LOCAL -j DOCKER"
    echo "-A POSTROUTING -s $net ! -o $DOCKER_BRIDGE -j MASQUERADE"
    echo "-A DOCKER -i $DOCKER_BRIDGE -j RETURN"
    [ -z "$published" ] || echo "-A DOCKER ! -i $DOCKER_BRIDGE -p tcp -m tcp --dport $published -j DNAT --to-destination $to"
    echo "COMMIT"
    echo "*filter"
    echo ":INPUT ACCEPT [0:0]"
    echo ":FORWARD DROP [0:0]"
    echo ":OUTPUT ACCEPT [0:0]"
    echo ":DOCKER - [0:0]"
    echo ":DOCKER-USER - [0:0]"
    echo "-A FORWARD -j DOCKER-USER"
    echo "-A FORWARD -o $DOCKER_BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    echo "-A FORWARD -o $DOCKER_BRIDGE -j DOCKER"
    echo "-A FORWARD -i $DOCKER_BRIDGE ! -o $DOCKER_BRIDGE -j ACCEPT"
    echo "-A FORWARD -i $DOCKER_BRIDGE -o $DOCKER_BRIDGE -j ACCEPT"
    [ -z "$published" ] || echo "-A DOCKER -d $ctr ! -i $DOCKER_BRIDGE -o $DOCKER_BRIDGE -p tcp -m tcp --dport 22 -j ACCEPT"
    # As Docker's documentation suggests: only the admin range may reach the containers.
    [ "$UP_SCENARIO" != docker-user-drop ] || echo "-A DOCKER-USER -i $SRV_DEV ! -s $admin -j DROP"
    echo "-A DOCKER-USER -j RETURN"
    echo "COMMIT"
}

# A Docker-like host in the server namespace: bridge docker0 whose port is the container's veth,
# the container in its own netns with sshd on :22 (not running for docker-ctr-stopped), and the
# iptables-nft rules dockerd writes, publishing it as :DOCKER_PUBLISHED except for
# docker-unpublished. The host itself runs no sshd.
build_docker_host() {
    local scenario=$1 published=$DOCKER_PUBLISHED i a
    [ "$scenario" != docker-unpublished ] || published=""
    ip netns add "$CTR_NS"
    ip -n "$CTR_NS" link set lo up
    ip -n "$SRV_NS" link add "$DOCKER_BRIDGE" type bridge stp_state 0
    ip link add vethctr netns "$SRV_NS" type veth peer name eth0 netns "$CTR_NS"
    ip -n "$SRV_NS" link set vethctr master "$DOCKER_BRIDGE"
    ip -n "$SRV_NS" addr add "$DOCKER_HOST4/24" dev "$DOCKER_BRIDGE"
    ip -n "$SRV_NS" addr add "$DOCKER_HOST6/64" dev "$DOCKER_BRIDGE" nodad
    ip -n "$CTR_NS" addr add "$DOCKER_CTR4/24" dev eth0
    ip -n "$CTR_NS" addr add "$DOCKER_CTR6/64" dev eth0 nodad
    ip -n "$SRV_NS" link set "$DOCKER_BRIDGE" up
    ip -n "$SRV_NS" link set vethctr up
    ip -n "$CTR_NS" link set eth0 up
    ip -n "$CTR_NS" route add default via "$DOCKER_HOST4"
    ip -n "$CTR_NS" -6 route add default via "$DOCKER_HOST6"
    ip netns exec "$SRV_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    docker_rules 4 "$published" | ip netns exec "$SRV_NS" iptables-nft-restore
    docker_rules 6 "$published" | ip netns exec "$SRV_NS" ip6tables-nft-restore
    # Resolve the neighbours both ways now, so the first SYN is not held up by it.
    for a in "$DOCKER_HOST4" "$DOCKER_HOST6"; do ip netns exec "$CTR_NS" nc -z -w 1 "$a" 9 >/dev/null 2>&1 || true; done
    for a in "$DOCKER_CTR4" "$DOCKER_CTR6"; do ip netns exec "$SRV_NS" nc -z -w 1 "$a" 9 >/dev/null 2>&1 || true; done
    [ "$scenario" != docker-ctr-stopped ] || return 0
    sed -e "s|^PidFile .*|PidFile $STATE/ctr_sshd.pid|" "$STATE/sshd_config" >"$STATE/ctr_sshd_config"
    ip netns exec "$CTR_NS" "$SSHD" -f "$STATE/ctr_sshd_config" -E "$STATE/ctr_sshd.log" </dev/null >/dev/null
    for i in $(seq 1 50); do
        [ "$(ip netns exec "$CTR_NS" ss -Hltn "sport = :$SSH_PORT" | grep -c .)" -lt 2 ] || return 0
        sleep 0.1
    done
    fail "the container's sshd did not start listening"
}

# Proves the client reaches the server over FAMILY before any scenario is applied. There is no
# ping on every machine, so probe a TCP port nothing listens on: a "refused" answer is a full
# round trip over exactly the path ssh will use. Bounded: a few 1-second tries.
check_reachable() {
    local addr=$1 out try
    for try in 1 2 3 4 5; do
        out=$(ip netns exec "$CLI_NS" nc -z -v -w1 "$addr" 9 2>&1 || true)
        case $out in
        *refused*) return 0 ;;
        esac
        [ "$try" -eq 5 ] || sleep 0.2
    done
    fail "client cannot reach $addr from $CLI_NS (last probe: ${out:-no output})"
}

# Writes the sshd config for the scenario and a fresh host key; starts nothing.
write_sshd_config() {
    local scenario=$1 port=$SSH_PORT listen=("0.0.0.0" "::")
    case $scenario in
    sshd-other-port) port=2222 ;;
    sshd-loopback-only) listen=("127.0.0.1" "::1") ;;
    esac

    ssh-keygen -q -t ed25519 -N '' -C "synwhy-lab-$PREFIX" -f "$STATE/ssh_host_ed25519_key"
    {
        echo "# synwhy lab ($PREFIX), scenario $scenario"
        echo "Port $port"
        local a
        for a in "${listen[@]}"; do
            echo "ListenAddress $a"
        done
        echo "HostKey $STATE/ssh_host_ed25519_key"
        echo "PidFile $STATE/sshd.pid"
        # No PAM, no passwords, no keys accepted: a completed handshake ends in
        # "Permission denied (publickey)", which is all the lab needs to show.
        echo "UsePAM no"
        echo "PasswordAuthentication no"
        echo "KbdInteractiveAuthentication no"
        echo "AuthorizedKeysFile none"
        echo "PrintMotd no"
        echo "UseDNS no"
    } >"$STATE/sshd_config"
    # Privilege separation directory (shared with any other sshd on the machine, so never removed).
    mkdir -p /run/sshd
    "$SSHD" -t -f "$STATE/sshd_config"
}

# Listening TCP sockets on PORT in the server namespace.
listeners_on() {
    ip netns exec "$SRV_NS" ss -Hltn "sport = :$1" 2>/dev/null | grep -c . || true
}

start_sshd() {
    local port=$1 i
    # sshd daemonizes (stdio to /dev/null), so it never holds our caller's pipes open; errors
    # before that reach up's error line. -E keeps its log with the lab's state (there is no syslog
    # here), useful when a scenario misbehaves.
    ip netns exec "$SRV_NS" "$SSHD" -f "$STATE/sshd_config" -E "$STATE/sshd.log" </dev/null >/dev/null
    # Bounded wait: pid file written and both families' listeners present.
    for i in $(seq 1 50); do
        if [ -s "$STATE/sshd.pid" ] && [ "$(listeners_on "$port")" -ge 2 ]; then
            return 0
        fi
        sleep 0.1
    done
    fail "sshd did not start listening on port $port within 5 s ($(tail -n1 "$STATE/sshd.log" 2>/dev/null || true))"
}

# A table in the server namespace's nftables with one rule on tcp dport 22.
load_nft_rule() {
    local rule=$1
    ip netns exec "$SRV_NS" nft -f - <<EOF
table inet lab_filter {
    chain input {
        type filter hook input priority 0; policy accept;
        $rule
    }
}
EOF
}

apply_scenario_firewall() {
    case $1 in
    nft-drop | vip-dnat-drop) load_nft_rule 'tcp dport 22 drop comment "block-ssh"' ;;
    nft-reject-rst) load_nft_rule 'tcp dport 22 reject with tcp reset comment "reject-ssh-rst"' ;;
    # Plain reject in an inet table: ICMP port unreachable for IPv4, ICMPv6 port unreachable for IPv6.
    nft-reject-icmp) load_nft_rule 'tcp dport 22 reject comment "reject-ssh-icmp"' ;;
    iptables-legacy-drop)
        ip netns exec "$SRV_NS" iptables-legacy -A INPUT -p tcp --dport 22 -j DROP
        ip netns exec "$SRV_NS" ip6tables-legacy -A INPUT -p tcp --dport 22 -j DROP
        ;;
    nft-jump-drop)
        ip netns exec "$SRV_NS" nft -f - <<'EOF'
table inet lab_filter {
    chain ssh_guard {
        tcp dport 2200 accept
        tcp dport 22 drop comment "block-ssh"
    }
    chain input {
        type filter hook input priority 0; policy accept;
        ct state established,related accept
        meta l4proto tcp jump ssh_guard
    }
}
EOF
        ;;
    nft-policy-drop)
        ip netns exec "$SRV_NS" nft -f - <<'EOF'
table inet lab_filter {
    chain input {
        type filter hook input priority 0; policy drop;
        ct state established,related accept
        iif "lo" accept
        meta l4proto { icmp, ipv6-icmp } accept
        tcp dport { 80, 443 } accept
    }
}
EOF
        ;;
    nft-output-drop)
        ip netns exec "$SRV_NS" nft -f - <<'EOF'
table inet lab_filter {
    chain output {
        type filter hook output priority 0; policy accept;
        tcp sport 22 tcp flags & (syn|ack) == syn|ack drop comment "no-synack"
    }
}
EOF
        ;;
    iptables-nft-drop)
        ip netns exec "$SRV_NS" iptables-nft -A INPUT -p tcp --dport 22 -j DROP
        ip netns exec "$SRV_NS" ip6tables-nft -A INPUT -p tcp --dport 22 -j DROP
        ;;
    iptables-nft-reject)
        ip netns exec "$SRV_NS" iptables-nft -A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset
        ip netns exec "$SRV_NS" ip6tables-nft -A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset
        ;;
    iptables-legacy-chain-drop)
        local t
        for t in iptables-legacy ip6tables-legacy; do
            ip netns exec "$SRV_NS" "$t" -N SSH_GUARD
            ip netns exec "$SRV_NS" "$t" -A SSH_GUARD -p tcp --dport 2200 -j ACCEPT
            ip netns exec "$SRV_NS" "$t" -A SSH_GUARD -p tcp --dport 22 -j DROP
            ip netns exec "$SRV_NS" "$t" -A INPUT -p tcp -j SSH_GUARD
        done
        ;;
    ufw-deny)
        # The real ufw (`ufw enable` + `ufw deny 22/tcp`), run inside the server namespace with a
        # private copy of /etc/ufw on a tmpfs, so the machine's own ufw config is never touched.
        mkdir -p "$STATE/ufw"
        cp -a /etc/ufw/. "$STATE/ufw/"
        ip netns exec "$SRV_NS" unshare -m sh -c "mount -t tmpfs lab-ufw /etc/ufw && cp -a '$STATE/ufw/.' /etc/ufw/ &&
            ufw --force enable >/dev/null && ufw deny 22/tcp >/dev/null"
        ;;
    firewalld-deny)
        # The real firewalld, run once in the server namespace (see lab-firewalld.sh).
        ip netns exec "$SRV_NS" unshare -m "$LAB_DIR/lab-firewalld.sh" "$STATE"
        ;;
    handshake-lost)
        # The client's own firewall drops the SYN-ACKs: the server answers, nothing comes back.
        ip netns exec "$CLI_NS" nft -f - <<'EOF'
table inet lab_client {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp sport 22 tcp flags & (syn|ack) == syn|ack drop
    }
}
EOF
        ;;
    rp-filter)
        # Asymmetric routing: the client's second address 198.51.100.1 is routed, from the
        # server, through another interface (a veth pair inside the server namespace; the dummy
        # driver is not always there), so strict reverse-path filtering drops SYNs that come
        # from it on veth-srv.
        ip netns exec "$CLI_NS" ip addr add 198.51.100.1/32 dev "$CLI_IF"
        ip netns exec "$SRV_NS" ip link add rpf0 type veth peer name rpf1
        ip netns exec "$SRV_NS" ip link set rpf0 up
        ip netns exec "$SRV_NS" ip link set rpf1 up
        ip netns exec "$SRV_NS" ip route add 198.51.100.0/24 dev rpf0
        ip netns exec "$SRV_NS" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf."$SRV_IF".rp_filter=1
        ;;
    conntrack-full)
        # Connection tracking on in the server namespace; policy accept, so only conntrack drops.
        ip netns exec "$SRV_NS" nft -f - <<'EOF'
table inet lab_ct {
    chain input {
        type filter hook input priority 0; policy accept;
        ct state established,related accept
    }
}
EOF
        ;;
    tc-drop | xdp-drop)
        # A real BPF program on the server's interface drops TCP to port 22 before the stack.
        clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" -c "$LAB_DIR/lab-bpf/drop_ssh.bpf.c" \
            -o "$STATE/drop_ssh.bpf.o"
        if [ "$1" = tc-drop ]; then
            ip netns exec "$SRV_NS" tc qdisc add dev "$SRV_IF" clsact
            ip netns exec "$SRV_NS" tc filter add dev "$SRV_IF" ingress bpf da obj "$STATE/drop_ssh.bpf.o" sec tc
        else
            ip netns exec "$SRV_NS" ip link set dev "$SRV_IF" xdpgeneric obj "$STATE/drop_ssh.bpf.o" sec xdp
        fi
        ;;
    esac
}


# The conntrack entries of namespace NS (the root namespace when NS is empty); 0 without conntrack.
# vip-*: the client reaches the VIP through the server, whose nat table sends it to its own address.
vip_dnat() {
    ip -n "$CLI_NS" route add "$VIP4/32" via "$SRV4"
    ip -n "$CLI_NS" -6 route add "$VIP6/128" via "$SRV6"
    ip netns exec "$SRV_NS" nft -f - <<EOF
table inet lab_vip {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr $VIP4 tcp dport $SSH_PORT dnat ip to $SRV4
        ip6 daddr $VIP6 tcp dport $SSH_PORT dnat ip6 to $SRV6
    }
}
EOF
}

ct_count() {
    local n
    if [ -z "$1" ]; then
        n=$(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || true)
    else
        n=$(ip netns exec "$1" cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || true)
    fi
    if [[ $n =~ ^[0-9]+$ ]]; then echo "$n"; else echo 0; fi
}

# conntrack-full: lowers the global nf_conntrack_max to CT_FULL_MAX (saved first, so that any
# teardown restores it) and fills the server namespace's table up to it with ASSURED entries, which
# the kernel never evicts to make room (early drop takes only unassured ones). A new SYN then finds
# no room: "nf_conntrack: table full in netns N, dropping packet" (6.18), NF_DROP in nf_hook_slow.
fill_conntrack_table() {
    local f other orig max ns n count i

    # The limit is shared by every lab: one conntrack-full at a time. A saved value left by a lab
    # whose namespaces are gone is the real original: put it back first.
    for f in "$STATE_ROOT"/*/"$CT_SAVED_NAME"; do
        if ! [ -f "$f" ] || [ "$f" = "$CT_SAVED" ]; then continue; fi
        other=$(basename "$(dirname "$f")")
        if ns_exists "${other}-srv"; then
            fail "lab $other has lowered nf_conntrack_max (conntrack-full); run LAB_PREFIX=$other $PROG down first"
        fi
        restore_conntrack_max "$f" || fail "cannot restore the nf_conntrack_max saved by lab $other"
    done

    orig=$(cat "$CT_SYSCTL")
    [[ $orig =~ ^[0-9]+$ ]] || fail "cannot read $CT_SYSCTL"
    # The host must keep room under the lowered limit: the root namespace and every other named one.
    n=$(ct_count "")
    [ "$n" -le "$CT_BUSY" ] ||
        fail "the root namespace tracks $n connections (more than $CT_BUSY): lowering nf_conntrack_max to $CT_FULL_MAX would hurt this host"
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [ "$ns" = "$SRV_NS" ] && continue
        n=$(ct_count "$ns")
        [ "$n" -le "$CT_BUSY" ] ||
            fail "netns $ns tracks $n connections (more than $CT_BUSY): lowering nf_conntrack_max to $CT_FULL_MAX would hurt it"
    done

    max=$CT_FULL_MAX
    # 0 is "no limit"; a limit already below ours is kept as it is.
    if [ "$orig" -ne 0 ] && [ "$orig" -lt "$max" ]; then max=$orig; fi
    echo "$orig" >"$CT_SAVED"
    echo "$max" >"$CT_SYSCTL"

    # One conntrack process loads every entry (-R, ~50 ms for 256), stopping at the first refusal
    # ("not enough memory": the table is full). Distinct source ports from an address that is not the client's,
    # so that no entry matches the connection under test.
    for ((i = 0; i < max + 16; i++)); do
        echo "-I -p tcp -s 198.18.0.1 -d $SRV4 --sport $((10000 + i)) --dport 80 --state ESTABLISHED -u ASSURED,SEEN_REPLY -t 86400"
    done >"$STATE/conntrack-fill"
    ip netns exec "$SRV_NS" conntrack -R "$STATE/conntrack-fill" >/dev/null 2>&1 || true
    rm -f "$STATE/conntrack-fill"
    count=$(ct_count "$SRV_NS")
    [ "$count" -ge "$max" ] || fail "the conntrack table of $SRV_NS holds $count entries, not $max"
}

# For wrong-ip the client's SYN waits on ARP/neighbour discovery for an address nobody holds. By
# default the kernel gives up after 3 probes (~3 s) and fails the connect with "No route to host",
# which races ssh's ConnectTimeout of 3 s. Keep probing far longer than any connect timeout so the
# outcome is always a plain time-out, as for a SYN lost on the way. Client side only.
slow_neighbour_failure() {
    ip netns exec "$CLI_NS" sh -c "
        echo 60 > /proc/sys/net/ipv4/neigh/$CLI_DEV/mcast_solicit &&
        echo 60 > /proc/sys/net/ipv6/neigh/$CLI_DEV/mcast_solicit"
}

# Stops sshd (SIGSTOP: alive, listening, accepting nothing) and fills its accept queue with
# connections from the client that stay open until `down`. Bounded wait for the queue to be full.
wedge_sshd() {
    local pid i
    pid=$(cat "$STATE/sshd.pid")
    kill -STOP "$pid"
    # sshd has one listener per family: fill both, with exactly backlog + 1 connections each, so
    # that no extra connection keeps retransmitting its SYN.
    for i in $(seq 1 5); do
        ip netns exec "$CLI_NS" sh -c "sleep 600 | nc $SRV4 $SSH_PORT >/dev/null 2>&1 &"
        ip netns exec "$CLI_NS" sh -c "sleep 600 | nc $SRV6 $SSH_PORT >/dev/null 2>&1 &"
    done
    for i in $(seq 1 50); do
        # Recv-Q of a listener is its accept queue; full is backlog + 1.
        if [ "$(ip netns exec "$SRV_NS" ss -Hltn "sport = :$SSH_PORT" | awk '$2 > $3' | wc -l)" -ge 2 ]; then
            return 0
        fi
        sleep 0.1
    done
    fail "the accept queue of sshd did not fill"
}

UP_ERR=""
UP_STEP=""
UP_SCENARIO=""

# EXIT trap while `up` runs: on any failure, undo everything and print one line.
up_exit() {
    local rc=$? detail=""
    trap - EXIT
    set +e
    [ "$rc" -ne 0 ] || rc=1
    teardown >/dev/null 2>&1
    if [ -n "$UP_ERR" ] && [ -f "$UP_ERR" ]; then
        detail=$(grep -v '^[[:space:]]*$' "$UP_ERR" | tail -n1)
        rm -f "$UP_ERR"
    fi
    echo "$PROG: up $UP_SCENARIO failed while ${UP_STEP:-starting}${detail:+: $detail}" >&3
    exit "$rc"
}

cmd_up() {
    local scenario=$1
    is_scenario "$scenario" || {
        echo "$PROG: unknown scenario '$scenario' (see: $PROG list)" >&2
        exit 2
    }
    [ "$(id -u)" -eq 0 ] || {
        echo "$PROG: must run as root (network namespaces)" >&2
        exit 1
    }
    # Scenarios that set up the server's veth itself (tc, XDP, rp_filter, a container's veth)
    # are made for the plain topology only.
    case $TOPOLOGY:$scenario in
    plain:* | *:healthy | *:sshd-stopped | *:sshd-other-port | *:sshd-loopback-only | *:nft-* | *:iptables-* | \
        *:wrong-ip | *:ufw-deny | *:handshake-lost) ;;
    *)
        echo "$PROG: scenario '$scenario' is made for LAB_TOPOLOGY=plain only" >&2
        exit 2
        ;;
    esac
    UP_SCENARIO=$scenario

    # Steps' own error output goes to a scratch file; on failure only its last line is shown.
    UP_ERR=$(mktemp /tmp/synwhy-lab-up.XXXXXX)
    exec 3>&2 2>"$UP_ERR"
    trap up_exit EXIT
    trap 'exit 130' INT TERM

    UP_STEP="removing the previous lab"
    teardown
    mkdir -p "$STATE"
    echo "$scenario" >"$STATE/scenario"

    UP_STEP="building the network"
    build_network
    UP_STEP="checking IPv4 reachability"
    check_reachable "$SRV4"
    UP_STEP="checking IPv6 reachability"
    check_reachable "$SRV6"

    UP_STEP="writing the sshd config"
    write_sshd_config "$scenario"
    case $scenario in
    sshd-stopped | vip-dnat-stopped) ;; # installed and configured, not running
    sshd-other-port)
        UP_STEP="starting sshd"
        start_sshd 2222
        ;;
    docker-*)
        UP_STEP="building the Docker-like host"
        build_docker_host "$scenario"
        ;;
    container-unpublished | container-published)
        # The host runs no sshd; a "container" (its own netns, as docker would make it) does.
        # Unpublished: nothing maps a host port to it. Published: like `docker run -p 2222:22`, a
        # veth to the host and a DNAT of the host's :2222 to the container's :22.
        ip netns add "$CTR_NS"
        ip -n "$CTR_NS" link set lo up
        sed -e "s|^PidFile .*|PidFile $STATE/ctr_sshd.pid|" "$STATE/sshd_config" >"$STATE/ctr_sshd_config"
        UP_STEP="starting the container's sshd"
        ip netns exec "$CTR_NS" "$SSHD" -f "$STATE/ctr_sshd_config" -E "$STATE/ctr_sshd.log" </dev/null >/dev/null
        for i in $(seq 1 50); do
            [ "$(ip netns exec "$CTR_NS" ss -Hltn "sport = :$SSH_PORT" | grep -c .)" -ge 2 ] && break
            [ "$i" -lt 50 ] || fail "the container's sshd did not start listening"
            sleep 0.1
        done
        if [ "$scenario" = container-published ]; then
            UP_STEP="publishing the container's port"
            ip link add ctr-host netns "$SRV_NS" type veth peer name ctr-eth netns "$CTR_NS"
            ip -n "$SRV_NS" addr add 198.51.100.1/24 dev ctr-host
            ip -n "$SRV_NS" addr add 2001:db8:1::1/64 dev ctr-host nodad
            ip -n "$CTR_NS" addr add 198.51.100.2/24 dev ctr-eth
            ip -n "$CTR_NS" addr add 2001:db8:1::2/64 dev ctr-eth nodad
            ip -n "$SRV_NS" link set ctr-host up
            ip -n "$CTR_NS" link set ctr-eth up
            ip -n "$CTR_NS" route add default via 198.51.100.1
            ip -n "$CTR_NS" -6 route add default via 2001:db8:1::1
            ip netns exec "$SRV_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
            # Resolve the neighbours both ways now, so the first SYN is not held up by it.
            ip netns exec "$CTR_NS" nc -z -w 1 198.51.100.1 9 >/dev/null 2>&1 || true
            ip netns exec "$CTR_NS" nc -z -w 1 2001:db8:1::1 9 >/dev/null 2>&1 || true
            ip netns exec "$SRV_NS" nc -z -w 1 198.51.100.2 9 >/dev/null 2>&1 || true
            ip netns exec "$SRV_NS" nc -z -w 1 2001:db8:1::2 9 >/dev/null 2>&1 || true
            ip netns exec "$SRV_NS" nft -f - <<'EOF'
table inet lab_nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        meta nfproto ipv4 tcp dport 2222 dnat ip to 198.51.100.2:22
        meta nfproto ipv6 tcp dport 2222 dnat ip6 to [2001:db8:1::2]:22
    }
}
EOF
        fi
        ;;
    sshd-wedged)
        # somaxconn is per netns: a backlog of 4 fills with a handful of real connections.
        ip netns exec "$SRV_NS" sysctl -qw net.core.somaxconn=4
        UP_STEP="starting sshd"
        start_sshd "$SSH_PORT"
        UP_STEP="wedging sshd"
        wedge_sshd
        ;;
    *)
        UP_STEP="starting sshd"
        start_sshd "$SSH_PORT"
        ;;
    esac

    if [[ $scenario == vip-dnat* ]]; then
        UP_STEP="routing the VIP to the server"
        vip_dnat
    fi
    UP_STEP="applying the firewall rules"
    apply_scenario_firewall "$scenario"
    if [ "$scenario" = conntrack-full ]; then
        UP_STEP="filling the conntrack table"
        fill_conntrack_table
    fi
    if [ "$scenario" = wrong-ip ]; then
        UP_STEP="tuning neighbour discovery"
        slow_neighbour_failure
    fi

    trap - EXIT INT TERM
    exec 2>&3 3>&-
    rm -f "$UP_ERR"
    echo "lab $PREFIX up: $scenario"
}

cmd_target() {
    local family=$1 scenario
    scenario=$(current_scenario)
    if [ "$scenario" = wrong-ip ]; then
        if [ "$family" = 4 ]; then echo "$WRONG4"; else echo "$WRONG6"; fi
    elif [[ $scenario == vip-dnat* ]]; then
        if [ "$family" = 4 ]; then echo "$VIP4"; else echo "$VIP6"; fi
    else
        if [ "$family" = 4 ]; then echo "$SRV4"; else echo "$SRV6"; fi
    fi
}

# The port the client connects to: the published one where a container's sshd is published.
client_port() {
    case $(current_scenario 2>/dev/null) in
    container-published | docker-published | docker-user-drop | docker-ctr-stopped) echo "$DOCKER_PUBLISHED" ;;
    *) echo "$SSH_PORT" ;;
    esac
}

cmd_connect() {
    local family=$1 t=${2:-3} addr out rc
    [[ $t =~ ^[1-9][0-9]*$ ]] || usage
    addr=$(cmd_target "$family")
    local bind=()
    # rp-filter: connect from the address the server routes elsewhere.
    [ "$(current_scenario)" = rp-filter ] && [ "$family" = 4 ] && bind=(-b 198.51.100.1)
    # ssh's ConnectTimeout bounds the TCP connect and the banner exchange; `timeout` bounds
    # everything else (T+1, then SIGKILL one second later: never beyond T+2). -F /dev/null keeps
    # the machine's ssh_config out of the outcome.
    out=$(timeout -k 1 $((t + 1)) ip netns exec "$CLI_NS" \
        ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout="$t" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "${bind[@]}" -p "$(client_port)" "$addr" true \
        2>&1 </dev/null) && rc=0 || rc=$?
    out=$(printf '%s\n' "$out" | tr -d '\r' | grep -v '^[[:space:]]*$' || true)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "${out:+$out; }lab.sh: ssh did not finish within $((t + 1)) s"
    elif [ -n "$out" ]; then
        echo "$out"
    else
        echo "ssh exited with status $rc"
    fi
    # The outcome is what is being diagnosed, not a failure of this command.
    return 0
}

# Whether this kernel makes the interfaces of LAB_TOPOLOGY vlan, ipvlan or bond (a module not every
# kernel has): tried on a veth in a scratch namespace, removed at once.
kernel_makes() {
    local kind=$1 probe_ns="${PREFIX}-probe-$1" ok=1
    local made=(link add link vp0 name vx0 type "$kind")
    case $kind in
    vlan) made+=(id 5) ;;
    ipvlan) made+=(mode l3) ;;
    bond) made=(link add vx0 type bond) ;;
    *) usage ;;
    esac
    ip netns add "$probe_ns" 2>/dev/null || exit 1
    ip -n "$probe_ns" link add vp0 type veth peer name vp1 2>/dev/null && ip -n "$probe_ns" "${made[@]}" 2>/dev/null && ok=0
    ip netns del "$probe_ns" 2>/dev/null || true
    exit "$ok"
}

cmd_exec() {
    local ns=$1
    shift
    [ $# -gt 0 ] || usage
    ns_exists "$ns" || {
        echo "$PROG: namespace $ns does not exist (run: $PROG up SCENARIO)" >&2
        exit 1
    }
    exec ip netns exec "$ns" "$@"
}

main() {
    [ $# -gt 0 ] || usage
    local cmd=$1
    shift
    case $cmd in
    up)
        [ $# -eq 1 ] || usage
        cmd_up "$1"
        ;;
    down)
        teardown >/dev/null 2>&1 || true
        exit 0
        ;;
    list)
        local i
        for ((i = 0; i < ${#SCENARIOS[@]}; i += 2)); do
            printf '%-22s %s\n' "${SCENARIOS[i]}" "${SCENARIOS[i + 1]}"
        done
        ;;
    target)
        [ $# -eq 1 ] || usage
        check_family "$1"
        cmd_target "$1"
        ;;
    port)
        [ $# -eq 0 ] || usage
        client_port
        ;;
    crash)
        # sshd-crash: the server's sshd dies of SIGSEGV (mid-capture, when the caller says).
        [ $# -eq 0 ] || usage
        current_scenario >/dev/null
        kill -SEGV "$(cat "$STATE/sshd.pid")"
        ;;
    connect)
        case $# in 1 | 2) ;; *) usage ;; esac
        check_family "$1"
        current_scenario >/dev/null
        cmd_connect "$@"
        ;;
    can)
        [ $# -eq 1 ] || usage
        kernel_makes "$1"
        ;;
    srv) cmd_exec "$SRV_NS" "$@" ;;
    cli) cmd_exec "$CLI_NS" "$@" ;;
    *) usage ;;
    esac
}

main "$@"
