#!/usr/bin/env bash
# The systemd server lab: a stock Debian 12 booted with systemd as PID 1 in systemd-nspawn, with
# synwhy installed from the project's own .deb, and a client in a network namespace on the other
# end of the container's veth. The namespace lab (lab.sh) has no systemd, no firewall managers and
# no socket activation; this one has the real ones, as an operator's server has them.
#
# Usage:
#   syslab.sh rootfs              build the root filesystem tarball if missing; print its path
#   syslab.sh up [DEB]            boot the server (DEB: synwhy's .deb; default: made from
#                                 $SYSLAB_BUILD, build/ by default, with cpack)
#   syslab.sh down                stop the server, remove the client namespace and every file made
#   syslab.sh scenario NAME       bring the server back to its baseline, then set up scenario NAME
#   syslab.sh list                scenario names with a one-line description
#   syslab.sh target 4|6          the server's address
#   syslab.sh port                the port the scenario's client connects to
#   syslab.sh connect 4|6 [T]     one real ssh attempt from the client; prints ssh's last line
#   syslab.sh srv CMD...          run CMD inside the server (all its namespaces), as an operator
#   syslab.sh cli CMD...          run CMD in the client's network namespace
#
# The root filesystem is cached as /var/cache/synwhy/syslab-rootfs-KEY.tar, KEY a hash of what it
# is made from (this file's package list and build hooks); made with mmdebstrap (~2 min, ~330 MB).
# One server at a time: machine name swsys, state in /run/synwhy-syslab, root in /var/tmp.
set -euo pipefail

PROG=syslab.sh
HERE=$(dirname "$(readlink -f "$0")")
TOP=$(dirname "$HERE")
MACHINE=swsys
HOST_IF="ve-$MACHINE"          # the veth end nspawn makes on the host; moved into the client netns
CLI_NS="$MACHINE-cli"
STATE=/run/synwhy-syslab
ROOT=/var/tmp/synwhy-syslab/root
CACHE=/var/cache/synwhy
SRV4=203.0.113.2
CLI4=203.0.113.1
SRV6=2001:db8:5::2
CLI6=2001:db8:5::1
SUITE=bookworm

# What a stock Debian 12 server of the kinds synwhy meets has, plus the tools the scenarios use.
PACKAGES=(systemd systemd-sysv dbus openssh-server openssh-client nftables iptables ufw firewalld
          fail2ban python3-systemd sshguard netbase iproute2 procps netcat-openbsd)
# Run inside the new root at build time (mmdebstrap --customize-hook, $1 = the root). The managers
# come installed but off, as on a server before its admin turns them on; each scenario starts the
# one it is about. Pristine copies of what scenarios edit make the reset exact.
CUSTOMIZE=(
    'echo srv >"$1/etc/hostname"'
    'chroot "$1" systemctl disable firewalld.service fail2ban.service sshguard.service'
    'printf "[sshd]\nenabled = true\nbackend = systemd\n" >"$1/etc/fail2ban/jail.d/synwhy-lab.local"'
    'cp -a "$1/etc/ssh/sshd_config" "$1/etc/ssh/sshd_config.lab-orig"'
    'cp -a "$1/etc/ufw" "$1/etc/ufw.lab-orig"'
    'cp -a "$1/etc/firewalld" "$1/etc/firewalld.lab-orig"'
)

# Scenario table: name, description. Order is the order `list` prints.
SCENARIOS=(
    healthy "ssh.service running, no firewall"
    stopped-unit "systemctl stop ssh: /run/sshd is gone with the unit"
    stopped-disabled "ssh.service stopped and disabled (as Raspberry Pi OS ships it)"
    masked "ssh.service masked"
    config-broken "ssh.service failed after a bad sshd_config edit"
    start-limit "sshd killed until systemd gave up (start-limit-hit)"
    socket-port-mismatch "ssh.socket listens on 22, sshd_config says Port 2222; the client uses 2222"
    socket-port-mismatch-reverse "ssh.socket moved to 2222 by a drop-in, sshd_config says 22; the client uses 22"
    socket-stopped "ssh.socket enabled but stopped, ssh.service disabled"
    socket-config-broken "ssh.socket active, sshd_config broken: systemd accepts, every sshd start fails"
    port-squatted "another program (nc) holds port 22; ssh.service cannot bind"
    unit-waiting "ssh.service's start job waits behind a slow unit (as behind cloud-init on a cloud VM)"
    fail2ban-nft "fail2ban (nftables banaction) banned the client"
    fail2ban-iptables "fail2ban (iptables-multiport banaction) banned the client"
    sshguard "sshguard blocked the client after failed logins"
    ufw-default-deny "ufw enabled with its default deny and no allow rule"
    ufw-limit "ufw limit ssh, tripped by the client's burst of connections"
    firewalld-zone "firewalld: the interface in zone internal, sshd on 2222"
)

fail() {
    echo "$PROG: $*" >&2
    exit 1
}

usage() {
    sed -n '/^# Usage:/,/^# The root/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

is_scenario() {
    local i
    for ((i = 0; i < ${#SCENARIOS[@]}; i += 2)); do [ "${SCENARIOS[i]}" = "$1" ] && return 0; done
    return 1
}

rootfs_key() {
    { printf '%s\n' "$SUITE" "${PACKAGES[@]}" "${CUSTOMIZE[@]}"; } | sha256sum | cut -c1-16
}

cmd_rootfs() {
    local key tar tmp hooks=() h
    key=$(rootfs_key)
    tar="$CACHE/syslab-rootfs-$key.tar"
    if [ ! -s "$tar" ]; then
        command -v mmdebstrap >/dev/null || fail "mmdebstrap is missing (scripts/setup.sh installs it)"
        mkdir -p "$CACHE"
        # Tarballs made from another package list are stale: one cache entry at a time.
        find "$CACHE" -maxdepth 1 -type f -name 'syslab-rootfs-*.tar' ! -name "syslab-rootfs-$key.tar" -delete
        for h in "${CUSTOMIZE[@]}"; do hooks+=(--customize-hook="$h"); done
        tmp="$CACHE/syslab-rootfs-$key.partial$$.tar"   # mmdebstrap picks the format by extension
        # The apt lists stay in the root: installing synwhy's .deb there resolves its Depends.
        mmdebstrap --quiet --variant=apt --skip=cleanup/apt/lists \
            --include="$(IFS=,; echo "${PACKAGES[*]}")" "${hooks[@]}" "$SUITE" "$tmp" >&2 \
            || { rm -f "$tmp"; fail "mmdebstrap failed"; }
        mv "$tmp" "$tar"
    fi
    echo "$tar"
}

nspawn_pid() { cat "$STATE/nspawn.pid" 2>/dev/null || true; }
init_pid() { cat "$STATE/init.pid" 2>/dev/null || true; }

srv() {
    local pid
    pid=$(init_pid)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || fail "the server is not up (syslab.sh up)"
    nsenter -t "$pid" -a -- "$@"
}

# The script that brings the booted server back to its baseline: ssh.service enabled and running
# on :22 with the stock config, no firewall, no manager running, no socket activation.
RESET_SCRIPT='
set -u
systemctl stop fail2ban.service sshguard.service firewalld.service squatter.service 2>/dev/null
systemctl reset-failed squatter.service 2>/dev/null
ufw --force disable >/dev/null 2>&1
rm -rf /etc/ufw && cp -a /etc/ufw.lab-orig /etc/ufw
rm -rf /etc/firewalld && cp -a /etc/firewalld.lab-orig /etc/firewalld
rm -f /etc/fail2ban/jail.d/synwhy-banaction.local
nft flush ruleset
cp /etc/ssh/sshd_config.lab-orig /etc/ssh/sshd_config
rm -rf /etc/systemd/system/ssh.socket.d
systemctl stop slowboot.service 2>/dev/null
rm -rf /etc/systemd/system/slowboot.service /etc/systemd/system/ssh.service.d
systemctl unmask ssh.service ssh.socket >/dev/null 2>&1
systemctl stop ssh.socket ssh.service 2>/dev/null
systemctl disable ssh.socket >/dev/null 2>&1
systemctl enable ssh.service >/dev/null 2>&1
systemctl daemon-reload
systemctl reset-failed
systemctl start ssh.service
'

# Bounded wait until something listens on TCP port $1 inside the server (or, with "none", nothing).
wait_listener() {
    local port=$1 want=${2:-some}
    for _ in $(seq 1 50); do
        if [ -n "$(srv ss -Htln "sport = :$port")" ]; then
            [ "$want" = some ] && return 0
        else
            [ "$want" = none ] && return 0
        fi
        sleep 0.1
    done
    fail "port $port: expected $want listener"
}

# A bad line appended to sshd_config, as an admin's typo would be.
break_sshd_config() { srv sh -c 'echo "PermitRootLogn no" >>/etc/ssh/sshd_config'; }

set_sshd_port() { srv sed -i "s/^#\{0,1\}Port .*/Port $1/" /etc/ssh/sshd_config; }

enable_ufw() { srv ufw --force enable >/dev/null; }

start_fail2ban_and_ban() {
    srv systemctl start fail2ban.service
    for _ in $(seq 1 50); do srv fail2ban-client ping >/dev/null 2>&1 && break; sleep 0.2; done
    srv fail2ban-client set sshd banip "$CLI4" "$CLI6" >/dev/null
}

apply_scenario() {
    local s=$1
    echo 22 >"$STATE/port"
    case "$s" in
    healthy) ;;
    stopped-unit) srv systemctl stop ssh.service ;;
    stopped-disabled) srv systemctl disable --now ssh.service 2>/dev/null ;;
    masked) srv systemctl stop ssh.service && srv systemctl mask ssh.service 2>/dev/null ;;
    config-broken)
        break_sshd_config
        if srv systemctl restart ssh.service 2>/dev/null; then fail "ssh.service started with a broken config"; fi
        ;;
    start-limit)
        # Restart=on-failure brings sshd back each time, until StartLimitBurst (5 in 10 s). systemd
        # 252 keeps Result=signal then; the journal says "Start request repeated too quickly".
        for _ in $(seq 1 8); do
            srv systemctl kill -s SIGKILL ssh.service 2>/dev/null || true
            sleep 0.3
            [ "$(srv systemctl show -p ActiveState --value ssh.service)" = failed ] && break
        done
        # (grep -c, not -q: an early exit would SIGPIPE journalctl and fail the pipe)
        [ "$(srv journalctl -b -u ssh.service -o cat | grep -c "Start request repeated too quickly")" -gt 0 ] ||
            fail "no start limit hit"
        ;;
    socket-port-mismatch)
        srv systemctl disable --now ssh.service 2>/dev/null
        set_sshd_port 2222
        srv systemctl enable --now ssh.socket 2>/dev/null
        echo 2222 >"$STATE/port"
        ;;
    socket-port-mismatch-reverse)
        srv systemctl disable --now ssh.service 2>/dev/null
        srv sh -c 'mkdir -p /etc/systemd/system/ssh.socket.d &&
            printf "[Socket]\nListenStream=\nListenStream=2222\n" >/etc/systemd/system/ssh.socket.d/listen.conf'
        srv systemctl daemon-reload
        srv systemctl enable --now ssh.socket 2>/dev/null
        ;;
    socket-stopped)
        srv systemctl disable --now ssh.service 2>/dev/null
        srv systemctl enable ssh.socket 2>/dev/null
        ;;
    socket-config-broken)
        srv systemctl disable --now ssh.service 2>/dev/null
        break_sshd_config
        srv systemctl enable --now ssh.socket 2>/dev/null
        ;;
    port-squatted)
        srv systemctl stop ssh.service
        srv systemd-run --quiet --unit=squatter.service /usr/bin/nc -6 -lk 22   # dual-stack: both families
        wait_listener 22
        if srv systemctl start ssh.service 2>/dev/null; then fail "ssh.service started on a taken port"; fi
        ;;
    unit-waiting)
        srv sh -c 'printf "[Unit]\nDescription=slow to start, like cloud-init\n[Service]\nType=oneshot\nExecStart=/bin/sleep 300\n" \
                >/etc/systemd/system/slowboot.service &&
            mkdir -p /etc/systemd/system/ssh.service.d &&
            printf "[Unit]\nAfter=slowboot.service\nWants=slowboot.service\n" >/etc/systemd/system/ssh.service.d/wait.conf'
        srv systemctl daemon-reload
        srv systemctl stop ssh.service
        srv systemctl start --no-block ssh.service
        ;;
    fail2ban-nft)
        srv sh -c 'printf "[DEFAULT]\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\n" \
            >/etc/fail2ban/jail.d/synwhy-banaction.local'
        start_fail2ban_and_ban
        ;;
    fail2ban-iptables) start_fail2ban_and_ban ;;   # fail2ban 1.0.2's default: iptables-multiport
    sshguard)
        srv systemctl start sshguard.service
        sleep 1
        # Three invalid-user attempts (10 points each) reach sshguard's threshold of 30.
        local a i
        for a in "$CLI4" "$CLI6"; do
            for i in 1 2 3; do srv logger -t sshd -p auth.info "Invalid user lab$i from $a port 4000$i"; done
        done
        for _ in $(seq 1 50); do
            [[ $(srv nft list set ip6 sshguard attackers 2>/dev/null) == *"$CLI6"* ]] && break
            sleep 0.2
        done
        [[ $(srv nft list set ip sshguard attackers) == *"$CLI4"* ]] || fail "sshguard did not block $CLI4"
        ;;
    ufw-default-deny) enable_ufw ;;
    ufw-limit)
        srv ufw limit 22/tcp >/dev/null
        enable_ufw
        # ufw limit: the 6th new connection from one address within 30 s is rejected.
        local fam
        for fam in 4 6; do
            for _ in 1 2 3 4 5 6; do cmd_cli nc -z -w 2 "$(cmd_target "$fam")" 22 >/dev/null 2>&1 || true; done
        done
        ;;
    firewalld-zone)
        set_sshd_port 2222
        srv systemctl restart ssh.service
        srv systemctl start firewalld.service
        srv firewall-cmd --quiet --permanent --zone=internal --change-interface=host0
        srv firewall-cmd --quiet --reload
        echo 2222 >"$STATE/port"
        ;;
    esac
}

cmd_scenario() {
    local s=${1:-}
    is_scenario "$s" || fail "unknown scenario '$s' (see: $PROG list)"
    srv bash -c "$RESET_SCRIPT" >/dev/null 2>&1 || true
    wait_listener 22
    apply_scenario "$s"
    echo "$s" >"$STATE/scenario"
}

cmd_down() {
    local pid
    pid=$(nspawn_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true   # nspawn powers the container off
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # A server left by a crashed run is found by its machine name.
    pkill -KILL -f "systemd-nspawn .*-M $MACHINE( |$)" 2>/dev/null || true
    ip netns del "$CLI_NS" 2>/dev/null || true
    ip link del "$HOST_IF" 2>/dev/null || true
    rm -rf "$(dirname "$ROOT")" "$STATE"
    return 0
}

build_deb() {
    local build=${SYSLAB_BUILD:-$TOP/build} out="$STATE/deb"
    [ -f "$build/CPackConfig.cmake" ] || fail "no $build to package (scripts/setup.sh builds build/)"
    mkdir -p "$out"
    (cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" >/dev/null) || fail "cpack failed"
    ls "$out"/synwhy_*.deb | head -1
}

# Installs synwhy's .deb into the root before it boots, with the host's network: apt resolves its
# Depends from Debian's archive, as on any stock server.
install_deb() {
    local deb=$1
    systemd-nspawn --quiet --register=no --keep-unit --pipe -D "$ROOT" --bind-ro="$deb:/tmp/synwhy.deb" \
        env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/synwhy.deb \
        >"$STATE/deb-install.log" 2>&1 || { tail -20 "$STATE/deb-install.log" >&2; fail "apt-get install of $deb failed"; }
}

boot() {
    # nspawn's own seccomp filter refuses bpf(2) and perf_event_open(2) to the container's
    # processes (a real server's systemd has no such filter): allowed here so that synwhy-watch.service,
    # started by the container's systemd, can trace as it does on a host. nsenter'd commands never
    # had the filter.
    setsid systemd-nspawn --register=no --keep-unit -b --network-veth --capability=all \
        --system-call-filter='bpf perf_event_open' \
        -D "$ROOT" -M "$MACHINE" </dev/null >"$STATE/console.log" 2>&1 &
    echo $! >"$STATE/nspawn.pid"
    local init=""
    for _ in $(seq 1 100); do
        init=$(pgrep -P "$(nspawn_pid)" -x systemd || true)
        [ -n "$init" ] && break
        sleep 0.1
    done
    [ -n "$init" ] || { tail -20 "$STATE/console.log" >&2; fail "the server did not start"; }
    echo "$init" >"$STATE/init.pid"
    # is-system-running --wait fails at once while systemd has no bus yet: ask again until it answers.
    local state=""
    for _ in $(seq 1 90); do
        state=$(timeout 60 nsenter -t "$init" -a systemctl is-system-running --wait 2>/dev/null || true)
        case "$state" in
        running | degraded) return 0 ;;
        esac
        sleep 1
    done
    tail -20 "$STATE/console.log" >&2
    fail "the server did not reach multi-user (state: ${state:-none})"
}

build_network() {
    ip netns add "$CLI_NS"
    ip link set "$HOST_IF" netns "$CLI_NS"
    ip -n "$CLI_NS" link set lo up
    ip -n "$CLI_NS" addr add "$CLI4/24" dev "$HOST_IF"
    ip -n "$CLI_NS" addr add "$CLI6/64" dev "$HOST_IF" nodad
    ip -n "$CLI_NS" link set "$HOST_IF" up
    local init
    init=$(init_pid)
    nsenter -t "$init" -n ip addr add "$SRV4/24" dev host0
    nsenter -t "$init" -n ip addr add "$SRV6/64" dev host0 nodad
    nsenter -t "$init" -n ip link set host0 up
    for _ in $(seq 1 50); do
        ip netns exec "$CLI_NS" ping -c1 -W1 "$SRV4" >/dev/null 2>&1 &&
            ip netns exec "$CLI_NS" ping -c1 -W1 "$SRV6" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "the client cannot reach the server"
}

cmd_up() {
    local deb=${1:-} tar
    cmd_down
    mkdir -p "$STATE" "$ROOT"
    tar=$(cmd_rootfs)
    [ -n "$deb" ] || deb=$(build_deb)
    [ -f "$deb" ] || fail "no such .deb: $deb"
    tar -xf "$tar" -C "$ROOT"
    install_deb "$(readlink -f "$deb")"
    boot
    build_network
    echo healthy >"$STATE/scenario"
    echo 22 >"$STATE/port"
}

cmd_target() {
    case "${1:-}" in
    4) echo "$SRV4" ;;
    6) echo "$SRV6" ;;
    *) fail "target: family must be 4 or 6" ;;
    esac
}

cmd_cli() { ip netns exec "$CLI_NS" "$@"; }

cmd_connect() {
    local fam=${1:-} timeout=${2:-3} target port
    target=$(cmd_target "$fam")
    port=$(cat "$STATE/port" 2>/dev/null || echo 22)
    cmd_cli ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout="$timeout" -o ConnectionAttempts=1 -p "$port" "lab@$target" true 2>&1 | tail -1 || true
}

cmd_list() {
    local i
    for ((i = 0; i < ${#SCENARIOS[@]}; i += 2)); do printf '%-30s %s\n' "${SCENARIOS[i]}" "${SCENARIOS[i + 1]}"; done
}

main() {
    [ "$(id -u)" -eq 0 ] || [ "${1:-}" = list ] || fail "run as root"
    local cmd=${1:-}
    shift || true
    case "$cmd" in
    rootfs) cmd_rootfs ;;
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    scenario) cmd_scenario "$@" ;;
    list) cmd_list ;;
    target) cmd_target "$@" ;;
    port) cat "$STATE/port" 2>/dev/null || echo 22 ;;
    connect) cmd_connect "$@" ;;
    srv) srv "$@" ;;
    cli) cmd_cli "$@" ;;
    *) usage ;;
    esac
}

main "$@"
