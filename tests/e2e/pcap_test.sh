#!/usr/bin/env bash
# --pcap: the SYNs and what was sent back for them (RST, ICMP error, SYN-ACK) are written with
# their real headers; tshark reads the file back and finds each packet.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || fail "tshark is not installed (scripts/setup.sh installs it)"

# count_packets FILE DISPLAY_FILTER: how many packets match.
count_packets() {
    tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l
}

# run_case SCENARIO FAMILY FILTER...: each display filter must match at least one packet.
run_case() {
    local scenario=$1 family=$2
    shift 2
    "$LAB" up "$scenario" >"$WORK/lab.out" 2>&1 || fail "lab up $scenario"
    local pcap="$WORK/$scenario.$family.pcap"
    start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s --pcap "$pcap"
    "$LAB" connect "$family" 3 >"$WORK/client.out" 2>&1 || true
    wait_synwhy 30
    [ -s "$pcap" ] || fail "$scenario: no pcap written"
    tshark -r "$pcap" >"$WORK/tshark.out" 2>&1 || fail "$scenario: tshark cannot read $pcap: $(cat "$WORK/tshark.out")"
    for filter in "$@"; do
        n=$(count_packets "$pcap" "$filter")
        [ "$n" -ge 1 ] || fail "$scenario ipv$family: no packet matches '$filter'; tshark says: $(cat "$WORK/tshark.out")"
    done
    # Nothing but the watched port's handshake packets.
    n=$(count_packets "$pcap" "not (tcp.port == 22 or icmp or icmpv6)")
    [ "$n" -eq 0 ] || fail "$scenario: $n packets in the pcap are not about :22"
    echo "ok: $scenario ipv$family: $(wc -l <"$WORK/tshark.out") packets"
    "$LAB" down >/dev/null 2>&1
}

# Refused by TCP: the SYN in and the RST out.
run_case sshd-stopped 4 \
    "ip.src == 192.0.2.1 && ip.dst == 192.0.2.2 && tcp.dstport == 22 && tcp.flags.syn == 1 && tcp.flags.ack == 0" \
    "ip.src == 192.0.2.2 && tcp.srcport == 22 && tcp.flags.reset == 1"
# Rejected by nftables with ICMPv6: the error quotes the SYN it answers.
run_case nft-reject-icmp 6 \
    "ipv6.src == 2001:db8::1 && tcp.dstport == 22 && tcp.flags.syn == 1 && !icmpv6" \
    "icmpv6.type == 1 && icmpv6.code == 4 && tcp.dstport == 22"
# Accepted: the SYN-ACK, with the TCP options the stack chose.
run_case healthy 4 \
    "ip.src == 192.0.2.2 && tcp.srcport == 22 && tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.options.mss_val > 0"
echo "ok: pcap"
