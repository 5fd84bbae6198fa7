#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/<target>/ from real inputs of this machine
# (root: sshd -T, /proc files, iptables-legacy-save -c and nft listings in a throwaway netns) and
# the binary seeds of make_seeds (BPF records; netlink messages built by hand and captured from
# the kernel in a private netns). Not run by CI: the corpus is committed.
#   tests/fuzz/make_corpus.sh [BUILD_DIR]    (default build-fuzz, configured by scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
build=${1:-build-fuzz}
out=tests/fuzz/corpus
[ "$(id -u)" -eq 0 ] || { echo "make_corpus.sh: run as root" >&2; exit 1; }
cmake --build "$build" -j2 --target make_seeds >/dev/null

rm -rf "$out"
for t in fuzz_bpf_event fuzz_sock_diag fuzz_nft_trace fuzz_sshd fuzz_proc_text fuzz_firewall_text; do
    mkdir -p "$out/$t"
done
ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/make_seeds" --capture "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# seed TARGET NAME SELECTOR: stdin, after the selector byte (octal, for printf).
seed() { { printf "\\$3"; cat; } >"$out/$1/$2"; }

# fuzz_sshd: 0 `sshd -T`, 1 `sshd -t` stderr, 2 an sshd's cmdline.
if [ -x /usr/sbin/sshd ]; then
    /usr/sbin/sshd -T -f /etc/ssh/sshd_config | seed fuzz_sshd sshd_T.default 000
    /usr/sbin/sshd -T -f /etc/ssh/sshd_config -o Port=2222 -o ListenAddress=127.0.0.1 -o ListenAddress=192.0.2.2:2200 \
        -o AddressFamily=inet | seed fuzz_sshd sshd_T.listen 000
    printf 'Port 22\nProtocol 2\nUsePrivilegeSeparation yes\nListenAdress 0.0.0.0\n' >"$tmp/bad_config"
    { /usr/sbin/sshd -t -f "$tmp/bad_config" 2>&1 || true; } | sed "s|$tmp/bad_config|/etc/ssh/sshd_config|" |
        seed fuzz_sshd sshd_t.error 001
fi
printf 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups' | seed fuzz_sshd cmdline.title 002
printf 'sshd: alice [priv]' | seed fuzz_sshd cmdline.child 002
printf '/usr/sbin/sshd\0-D\0-f\0/etc/ssh/sshd_config.d/lab.conf\0-oPort=2222\0' | seed fuzz_sshd cmdline.argv 002
printf '/usr/sbin/sshd\0-i\0' | seed fuzz_sshd cmdline.inetd 002

# fuzz_proc_text: 0 stat, 1 cmdline, 2 netstat, 3 cgroup, 4 kallsyms.
seed fuzz_proc_text stat.self 000 </proc/self/stat
printf '812 (sshd: a) (b)) S 1 812 812 0 -1 4194560 1 0 0 0' | seed fuzz_proc_text stat.parens 000
seed fuzz_proc_text cmdline.self 001 </proc/self/cmdline
seed fuzz_proc_text netstat 002 </proc/net/netstat
seed fuzz_proc_text cgroup.self 003 </proc/self/cgroup
id=3f2a1b9c0d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8
printf '0::/system.slice/docker-%s.scope\n' $id | seed fuzz_proc_text cgroup.docker2 003
printf '12:pids:/docker/%s\n11:memory:/docker/%s\n' $id $id | seed fuzz_proc_text cgroup.docker1 003
printf '0::/machine.slice/libpod-%s.scope/container\n' $id | seed fuzz_proc_text cgroup.podman 003
printf '0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-%s.scope\n' $id | seed fuzz_proc_text cgroup.containerd 003
# What a process without CAP_SYSLOG reads (addresses hidden), then a few lines as root sees them.
runuser -u nobody -- head -n 30 /proc/kallsyms | seed fuzz_proc_text kallsyms.hidden 004
printf 'ffffffff81000000 T _stext\nffffffff81a3c2d0 T kfree_skb_reason\nffffffff81b21e40 t tcp_v4_rcv\nffffffffc0a01000 t nft_do_chain\t[nf_tables]\nffffffffc0a01400 d nft_data\t[nf_tables]\n' |
    seed fuzz_proc_text kallsyms.root 004

# fuzz_firewall_text: 0 iptables-legacy-save -c before NUL after, 1 nft -a list, 2 a rule's text.
# Both in a throwaway netns; a SYN over loopback makes the counters grow.
unshare -n bash -c '
    set -e
    ip link set lo up
    iptables-legacy -N SSH_GUARD
    iptables-legacy -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
    iptables-legacy -A INPUT -p tcp --dport 22 -j SSH_GUARD
    iptables-legacy -A SSH_GUARD -s 10.0.0.0/8 -j ACCEPT
    iptables-legacy -A SSH_GUARD -p tcp -m tcp --dport 22 -j DROP
    iptables-legacy -A INPUT -p tcp --dport 2000:2999 -j REJECT --reject-with tcp-reset
    iptables-legacy-save -c >"$1/before"
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/22" 2>/dev/null || true
    iptables-legacy-save -c >"$1/after"
    nft -f - <<NFT
table inet lab_filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    tcp dport 22 jump ssh_guard
  }
  chain ssh_guard {
    ip saddr 10.0.0.0/8 accept comment "office"
    tcp dport 22 counter drop comment "block-ssh"
  }
}
NFT
    nft -a list table inet lab_filter >"$1/nft_listing"
' _ "$tmp"
{ cat "$tmp/before"; printf '\0'; cat "$tmp/after"; } | seed fuzz_firewall_text iptables_save.grew 000
seed fuzz_firewall_text nft_listing 001 <"$tmp/nft_listing"
printf 'table inet f {\n\tchain c {\n\t\ttcp dport 22 drop comment "two\nlines" # handle 4\n\t}\n}\n' |
    seed fuzz_firewall_text nft_listing.multiline 001
printf 'tcp dport 22 counter packets 0 bytes 0 drop comment "block-ssh \\"now\\""' |
    seed fuzz_firewall_text rule_comment 002

echo "$(find "$out" -type f | wc -l) seeds, $(find "$out" -type f -printf "%s\n" | awk '{n += $1} END {print n}') bytes"
