// Frames from a packet socket -> model events, without BPF (--no-bpf, or BPF cannot load).
// Pure: the frames are bytes, the clock and interface names come from the caller; unit-tested
// over byte fixtures.
//
// What a packet socket on Linux's "any" device sees, before netfilter on the way in and after it
// on the way out: a SYN arriving (syn_rx), a SYN-ACK or RST leaving the watched port (tx_synack,
// tx_rst), an ICMP error quoting a SYN to the watched port leaving (icmp_sent), and the client's
// ACK of the SYN-ACK (established). What it cannot see: where the kernel freed a packet and why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnosis/model.h"
#include "tracer/port_set.h"

namespace synwhy::capture {

// Link types the capture asks for (pcap's DLT_LINUX_SLL2 and DLT_LINUX_SLL).
inline constexpr int linktype_sll2 = 276;
inline constexpr int linktype_sll = 113;

// One frame, decoded as far as the events need it.
struct Segment {
    bool outgoing = false;     // the kernel sent it (SLL packet type PACKET_OUTGOING)
    uint32_t ifindex = 0;      // SLL2 only; 0 with SLL
    IpAddr src, dst;           // of the TCP segment; for an ICMP error, of the segment it quotes
    uint16_t sport = 0, dport = 0;
    uint8_t tcp_flags = 0;
    uint32_t seq = 0, ack = 0;
    uint32_t payload = 0;      // TCP payload bytes (0 for an ICMP error)
    bool icmp_error = false;   // an ICMP(v6) destination-unreachable quoting a TCP segment
    uint8_t icmp_type = 0, icmp_code = 0;
    std::vector<uint8_t> ip_packet;  // the frame from its IP header on (for --pcap)
};

// Parses a frame of `linktype`; nullopt for anything that is not IPv4/IPv6 TCP or an ICMP error
// quoting TCP (including truncated headers). Never reads past `caplen`.
std::optional<Segment> parse_frame(const uint8_t* data, size_t caplen, int linktype);

// The classic BPF filter (pcap syntax) for the watched ports: SYNs and RSTs either way, pure ACKs
// to the ports (the handshake's last step), ICMP(v6) destination-unreachable.
std::string capture_filter(const std::vector<uint16_t>& ports);

// Turns segments into events. Stateful: the SYN-ACKs it saw leave (to know the ACK that completes
// a handshake) and the segments of the last moment (the "any" device shows a frame once per
// device it crosses: a bridge port and the bridge, a VLAN and its lower device).
class FrameDecoder {
public:
    FrameDecoder(const std::vector<uint16_t>& ports, uint32_t netns) : ports_(ports), netns_(netns) {}

    // 0 or 1 event for the segment, with ts_ns and ifname given; appended to out.
    void decode(const Segment& s, uint64_t ts_ns, const std::string& ifname, std::vector<Event>& out);
    uint64_t syns_seen() const { return syns_; }

private:
    struct Key {
        IpAddr client, server;
        uint16_t cport = 0, sport = 0;
        auto operator<=>(const Key&) const = default;
    };
    bool duplicate(const Segment& s, uint64_t ts_ns);

    PortSet ports_;
    uint32_t netns_ = 0;
    uint64_t syns_ = 0;
    std::map<Key, std::pair<uint32_t, uint64_t>> synacks_;  // flow -> (SYN-ACK seq, when it left)
    struct Recent {
        uint64_t ts_ns;
        bool outgoing;
        IpAddr src, dst;
        uint16_t sport, dport;
        uint8_t flags, icmp_type;
        uint32_t seq, ack;
    };
    std::deque<Recent> recent_;
};

}  // namespace synwhy::capture
