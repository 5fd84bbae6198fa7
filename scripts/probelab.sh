#!/usr/bin/env bash
# The client-side lab of `synwhy probe`: three network namespaces, client — router — server, IPv4
# and IPv6, a real sshd on the server, a name server (dnsmasq) on the router, and the client's own
# /etc/hosts and resolv.conf (ip netns exec bind-mounts /etc/netns/NAME/* over /etc).
#
# Usage: scripts/probelab.sh up SCENARIO | down | list | cli CMD... | srv CMD... | rtr CMD... | ssh-config
# Namespaces are named after PROBELAB_PREFIX (default swp): swp-cli, swp-rtr, swp-srv.
#
#   client  198.51.100.1/26    2001:db8:7:1::1/64    resolver 198.51.100.62 (dnsmasq on the router)
#   router  198.51.100.62/26   2001:db8:7:1::ffff    | 198.51.100.126/26  2001:db8:7:2::ffff
#   server  198.51.100.66/26   2001:db8:7:2::2/64    sshd on these two only; also holds .67 and ::3
#   nobody  198.51.100.200     2001:db8:7:9::200     a blackhole route on the router: silence
# Names: ssh4.probe.example A .66; ssh6.probe.example AAAA ::2; dual.probe.example A .66 + AAAA ::3
# (AAAA refused, A fine); dual4.probe.example A .67 + AAAA ::2 (A refused, AAAA fine).
set -euo pipefail

P=${PROBELAB_PREFIX:-swp}
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
DIR=/tmp/probelab-$P
NETNS_ETC=/etc/netns/$CLI
TABLE=probelab

scenarios="healthy sshd-stopped router-drop router-reject-icmp router-rst no-route wrong-port wrong-address
aaaa-dead closes-before-banner not-ssh"

die() { echo "probelab: $*" >&2; exit 1; }

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

make_namespaces() {
    # No duplicate address detection: a fresh link's tentative link-local address would lose the
    # first IPv6 packets (and the probe's first SYN with them).
    for ns in "$CLI" "$RTR" "$SRV"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    ip -n "$CLI" link add eth0 type veth peer name c0 netns "$RTR"
    ip -n "$SRV" link add eth0 type veth peer name s0 netns "$RTR"
    ip -n "$CLI" addr add 198.51.100.1/26 dev eth0
    ip -n "$CLI" addr add 2001:db8:7:1::1/64 dev eth0 nodad
    ip -n "$RTR" addr add 198.51.100.62/26 dev c0
    ip -n "$RTR" addr add 2001:db8:7:1::ffff/64 dev c0 nodad
    ip -n "$RTR" addr add 198.51.100.126/26 dev s0
    ip -n "$RTR" addr add 2001:db8:7:2::ffff/64 dev s0 nodad
    ip -n "$SRV" addr add 198.51.100.66/26 dev eth0
    ip -n "$SRV" addr add 198.51.100.67/26 dev eth0
    ip -n "$SRV" addr add 2001:db8:7:2::2/64 dev eth0 nodad
    ip -n "$SRV" addr add 2001:db8:7:2::3/64 dev eth0 nodad
    for pair in "$CLI eth0" "$RTR c0" "$RTR s0" "$SRV eth0"; do
        set -- $pair
        ip -n "$1" link set "$2" up
    done
    # "nobody": the router discards packets to it without a word (a blackhole route: no ICMP).
    ip -n "$RTR" route add blackhole 198.51.100.192/26
    ip -n "$RTR" -6 route add blackhole 2001:db8:7:9::/64
    ip -n "$CLI" route add default via 198.51.100.62
    ip -n "$CLI" -6 route add default via 2001:db8:7:1::ffff
    ip -n "$SRV" route add default via 198.51.100.126
    ip -n "$SRV" -6 route add default via 2001:db8:7:2::ffff
    in_ns "$RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    static_ipv6_neighbours
}

mac_of() { ip -n "$1" -o link show "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }

# On fresh veths the first IPv6 neighbour solicitation goes unanswered for a second (seen on
# 6.x kernels): the probe's first SYN would wait for it. Permanent entries keep the lab's timing
# that of a warm network.
static_ipv6_neighbours() {
    local cli_mac rtr_c_mac rtr_s_mac srv_mac
    cli_mac=$(mac_of "$CLI" eth0) rtr_c_mac=$(mac_of "$RTR" c0) rtr_s_mac=$(mac_of "$RTR" s0) srv_mac=$(mac_of "$SRV" eth0)
    ip -n "$CLI" -6 neigh replace 2001:db8:7:1::ffff lladdr "$rtr_c_mac" dev eth0 nud permanent
    ip -n "$RTR" -6 neigh replace 2001:db8:7:1::1 lladdr "$cli_mac" dev c0 nud permanent
    ip -n "$RTR" -6 neigh replace 2001:db8:7:2::2 lladdr "$srv_mac" dev s0 nud permanent
    ip -n "$RTR" -6 neigh replace 2001:db8:7:2::3 lladdr "$srv_mac" dev s0 nud permanent
    ip -n "$SRV" -6 neigh replace 2001:db8:7:2::ffff lladdr "$rtr_s_mac" dev eth0 nud permanent
}

start_dns() {
    in_ns "$RTR" /usr/sbin/dnsmasq --no-resolv --no-hosts --conf-file=/dev/null --bind-interfaces \
        --listen-address=198.51.100.62 --except-interface=lo --port=53 --pid-file="$DIR/dnsmasq.pid" \
        --user=root --group=root \
        --host-record=ssh4.probe.example,198.51.100.66 \
        --host-record=ssh6.probe.example,2001:db8:7:2::2 \
        --host-record=dual.probe.example,198.51.100.66,2001:db8:7:2::3 \
        --host-record=dual4.probe.example,198.51.100.67,2001:db8:7:2::2
    [ -d /etc/netns ] || touch "$DIR/made-etc-netns"
    mkdir -p "$NETNS_ETC"
    echo "nameserver 198.51.100.62" >"$NETNS_ETC/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$NETNS_ETC/hosts"
}

# sshd's privilege separation directory: made when missing (and remembered), never removed when
# it was there before the lab.
ensure_run_sshd() {
    [ -d /run/sshd ] && return 0
    mkdir -p /run/sshd && chmod 0755 /run/sshd && touch "$DIR/made-run-sshd"
}

start_sshd() {
    ensure_run_sshd
    [ -f "$DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DIR/ssh_host_ed25519_key"
    cat >"$DIR/sshd_config" <<EOF
Port 22
ListenAddress 198.51.100.66
ListenAddress 2001:db8:7:2::2
HostKey $DIR/ssh_host_ed25519_key
PidFile $DIR/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
EOF
    in_ns "$SRV" /usr/sbin/sshd -f "$DIR/sshd_config"
    wait_listening 22
}

# Waits (bounded) until something listens on PORT in the server's namespace.
wait_listening() {
    for _ in $(seq 1 50); do
        in_ns "$SRV" ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    die "nothing listens on :$1 in $SRV after 5 s"
}

# A TCP server on :22 that is not sshd: closes each connection at once, or answers like a web server.
start_fake_server() {
    local mode=$1
    in_ns "$SRV" /usr/bin/python3 - "$mode" >/dev/null 2>&1 <<'EOF' &
import socket, sys
mode = sys.argv[1]
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 22))
s.listen(16)
while True:
    c, _ = s.accept()
    if mode == "not-ssh":
        c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    c.close()
EOF
    echo $! >"$DIR/fake.pid"
    wait_listening 22
}

router_rule() {
    in_ns "$RTR" nft -f - <<EOF
table inet $TABLE {
    chain forward {
        type filter hook forward priority 0; policy accept;
        tcp dport 22 $1
    }
}
EOF
}

write_client_ssh_config() {
    cat >"$DIR/client_ssh_config" <<'EOF'
# the lab client's ssh config (probe -F): an old port left behind
Host *.probe.example
    User root

Host ssh4.probe.example ssh6.probe.example
    Port 2222
EOF
}

up() {
    local scenario=$1
    [[ " $(echo $scenarios) " == *" $scenario "* ]] || die "unknown scenario '$scenario' (see: probelab.sh list)"
    [ ! -e "/run/netns/$CLI" ] || die "a lab with prefix $P is up: probelab.sh down first"
    mkdir -p "$DIR"
    trap 'down >/dev/null 2>&1' EXIT  # a failed step (set -e) leaves nothing behind
    make_namespaces
    start_dns
    write_client_ssh_config
    case $scenario in
    sshd-stopped) ;;
    closes-before-banner) start_fake_server close ;;
    not-ssh) start_fake_server not-ssh ;;
    *) start_sshd ;;
    esac
    case $scenario in
    router-drop) router_rule drop ;;
    router-reject-icmp) router_rule "reject with icmpx admin-prohibited" ;;
    router-rst) router_rule "reject with tcp reset" ;;
    no-route)
        ip -n "$RTR" route del 198.51.100.64/26 dev s0
        ip -n "$RTR" -6 route del 2001:db8:7:2::/64 dev s0
        ;;
    wrong-address)
        printf '198.51.100.200\tssh4.probe.example\n2001:db8:7:9::200\tssh6.probe.example\n' >>"$NETNS_ETC/hosts"
        ;;
    esac
    trap - EXIT
    echo "$scenario" >"$DIR/scenario"
    echo "probelab: $scenario up (client: probelab.sh cli CMD)"
}

# The lab's processes: those of its pid files and anything else running in its namespaces (a client
# left by a killed test).
lab_pids() {
    cat "$DIR"/*.pid 2>/dev/null || true
    for ns in "$CLI" "$RTR" "$SRV"; do [ ! -e "/run/netns/$ns" ] || ip netns pids "$ns" 2>/dev/null || true; done
}

# SIGKILL, all at once: lab daemons with nothing to save. No wait: a killed process here takes a
# second or two to be gone (its namespace's sockets), and nothing later depends on it.
kill_lab_processes() {
    local pid
    for pid in $(lab_pids | sort -u); do kill -KILL "$pid" 2>/dev/null || true; done
}

down() {
    kill_lab_processes
    for ns in "$CLI" "$RTR" "$SRV"; do
        [ ! -e "/run/netns/$ns" ] || ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$NETNS_ETC"
    # /etc/netns only when this lab made it and it is empty: other labs' entries stay.
    if [ -f "$DIR/made-etc-netns" ]; then rmdir /etc/netns 2>/dev/null || true; fi
    # /run/sshd only when this lab made it and no other sshd runs (another lab may be using it).
    if [ -f "$DIR/made-run-sshd" ] && ! pgrep -x sshd >/dev/null; then rmdir /run/sshd 2>/dev/null || true; fi
    rm -rf "$DIR"
}

[ $# -ge 1 ] || die "usage: probelab.sh up SCENARIO | down | list | cli CMD... | srv CMD... | rtr CMD... | ssh-config"
cmd=$1
shift
case $cmd in
up) [ $# -eq 1 ] || die "usage: probelab.sh up SCENARIO"; [ "$(id -u)" -eq 0 ] || die "needs root"; up "$1" ;;
down) down ;;
list) echo $scenarios | tr ' ' '\n' ;;
cli) exec ip netns exec "$CLI" "$@" ;;  # exec: a signal to this script reaches the command
srv) exec ip netns exec "$SRV" "$@" ;;
rtr) exec ip netns exec "$RTR" "$@" ;;
ssh-config) echo "$DIR/client_ssh_config" ;;
*) die "unknown command '$cmd'" ;;
esac
