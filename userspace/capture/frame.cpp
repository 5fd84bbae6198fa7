#include "capture/frame.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "diagnosis/describe.h"

namespace synwhy::capture {

namespace {

using detail::tcp_ack;
using detail::tcp_rst;
using detail::tcp_syn;
constexpr uint8_t tcp_fin = 0x01;

constexpr uint16_t ethertype_ipv4 = 0x0800, ethertype_ipv6 = 0x86dd, ethertype_vlan = 0x8100;
constexpr uint8_t packet_outgoing = 4;  // SLL packet type PACKET_OUTGOING
constexpr uint8_t proto_tcp = 6, proto_icmp = 1, proto_icmpv6 = 58;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

IpAddr addr(Family family, const uint8_t* p) {
    IpAddr a;
    a.family = family;
    std::memcpy(a.bytes.data(), p, family == Family::ipv4 ? 4 : 16);
    return a;
}

// An IP packet's transport header: where it starts, its protocol, and the bytes the IP header
// says the transport part has (which may be more than were captured).
struct Transport {
    Family family = Family::ipv4;
    IpAddr src, dst;
    uint8_t proto = 0;
    size_t offset = 0;    // from the IP header's start
    size_t length = 0;    // transport header + payload, by the IP header
};

std::optional<Transport> ip_transport(const uint8_t* p, size_t len) {
    if (len < 1) return std::nullopt;
    Transport t;
    if ((p[0] >> 4) == 4) {
        size_t ihl = size_t(p[0] & 0x0f) * 4;
        if (len < 20 || ihl < 20 || len < ihl) return std::nullopt;
        if (be16(p + 6) & 0x1fff) return std::nullopt;  // a later fragment carries no header
        size_t total = be16(p + 2);
        if (total < ihl) return std::nullopt;
        t.family = Family::ipv4;
        t.src = addr(t.family, p + 12);
        t.dst = addr(t.family, p + 16);
        t.proto = p[9];
        t.offset = ihl;
        t.length = total - ihl;
        return t;
    }
    if ((p[0] >> 4) == 6) {
        if (len < 40) return std::nullopt;
        t.family = Family::ipv6;
        t.src = addr(t.family, p + 8);
        t.dst = addr(t.family, p + 24);
        size_t payload = be16(p + 4);
        uint8_t next = p[6];
        size_t off = 40;
        // Hop-by-hop, routing, destination options, fragment (the first fragment only).
        for (int hops = 0; hops < 8 && (next == 0 || next == 43 || next == 60 || next == 44); hops++) {
            if (len < off + 8) return std::nullopt;
            size_t ext = next == 44 ? 8 : (size_t(p[off + 1]) + 1) * 8;
            if (next == 44 && (be16(p + off + 2) & 0xfff8)) return std::nullopt;
            next = p[off];
            off += ext;
        }
        if (off - 40 > payload) return std::nullopt;
        t.proto = next;
        t.offset = off;
        t.length = payload - (off - 40);
        return t;
    }
    return std::nullopt;
}

}  // namespace

std::optional<Segment> parse_frame(const uint8_t* data, size_t caplen, int linktype) {
    Segment s;
    uint16_t ethertype = 0;
    size_t off = 0;
    if (linktype == linktype_sll2) {
        if (caplen < 20) return std::nullopt;
        ethertype = be16(data);
        s.ifindex = be32(data + 4);
        s.outgoing = data[10] == packet_outgoing;
        off = 20;
    } else if (linktype == linktype_sll) {
        if (caplen < 16) return std::nullopt;
        s.outgoing = be16(data) == packet_outgoing;
        ethertype = be16(data + 14);
        off = 16;
    } else {
        return std::nullopt;
    }
    if (ethertype == ethertype_vlan) {  // a tag put back by libpcap: the IP packet follows it
        if (caplen < off + 4) return std::nullopt;
        ethertype = be16(data + off + 2);
        off += 4;
    }
    if (ethertype != ethertype_ipv4 && ethertype != ethertype_ipv6) return std::nullopt;
    const uint8_t* ip = data + off;
    const size_t len = caplen - off;
    auto t = ip_transport(ip, len);
    if (!t) return std::nullopt;
    const uint8_t* l4 = ip + t->offset;
    const size_t l4_len = len - std::min(len, t->offset);

    if (t->proto == proto_tcp) {
        if (l4_len < 20) return std::nullopt;
        size_t doff = size_t(l4[12] >> 4) * 4;
        if (doff < 20 || doff > t->length) return std::nullopt;
        s.src = t->src;
        s.dst = t->dst;
        s.sport = be16(l4);
        s.dport = be16(l4 + 2);
        s.seq = be32(l4 + 4);
        s.ack = be32(l4 + 8);
        s.tcp_flags = l4[13];
        s.payload = uint32_t(t->length - doff);
    } else if ((t->proto == proto_icmp && t->family == Family::ipv4) ||
               (t->proto == proto_icmpv6 && t->family == Family::ipv6)) {
        // Destination unreachable (ICMP 3, ICMPv6 1) quoting the TCP segment it answers.
        if (l4_len < 8) return std::nullopt;
        bool unreachable = t->family == Family::ipv4 ? l4[0] == 3 : l4[0] == 1;
        if (!unreachable) return std::nullopt;
        s.icmp_error = true;
        s.icmp_type = l4[0];
        s.icmp_code = l4[1];
        auto quoted = ip_transport(l4 + 8, l4_len - 8);
        if (!quoted || quoted->family != t->family || quoted->proto != proto_tcp) return std::nullopt;
        const uint8_t* q = l4 + 8 + quoted->offset;
        if (l4_len < 8 + quoted->offset + 8) return std::nullopt;  // the ports and seq, at least
        s.src = quoted->src;
        s.dst = quoted->dst;
        s.sport = be16(q);
        s.dport = be16(q + 2);
        s.seq = be32(q + 4);
        if (l4_len >= 8 + quoted->offset + 14) s.tcp_flags = q[13];
    } else {
        return std::nullopt;
    }
    s.ip_packet.assign(ip, ip + len);
    return s;
}

std::string capture_filter(const std::vector<uint16_t>& ports) {
    std::string port_list;
    for (size_t i = 0; i < ports.size(); i++) port_list += fmt::format("{}port {}", i ? " or " : "", ports[i]);
    // SYN or RST set (0x06), or an ACK with no FIN/SYN/RST and no payload (0x17 == 0x10). IPv6
    // by fixed offsets: a TCP header right after the fixed header (no extension headers).
    const std::string v4 =
        "ip and (tcp[13] & 0x06 != 0 or (tcp[13] & 0x17 == 0x10 and "
        "ip[2:2] - ((ip[0] & 0x0f) << 2) - ((tcp[12] & 0xf0) >> 2) == 0))";
    const std::string v6 =
        "ip6 and ip6[6] == 6 and (ip6[53] & 0x06 != 0 or (ip6[53] & 0x17 == 0x10 and "
        "ip6[4:2] - ((ip6[52] & 0xf0) >> 2) == 0))";
    return fmt::format("(tcp and ({}) and (({}) or ({}))) or (icmp and icmp[0] == 3) or "
                       "(icmp6 and ip6[6] == 58 and ip6[40] == 1)",
                       port_list, v4, v6);
}

bool FrameDecoder::duplicate(const Segment& s, uint64_t ts_ns) {
    // The same frame on several devices is seen within microseconds; a retransmission (the same
    // seq) comes a second or more later.
    constexpr uint64_t window_ns = 20'000'000;
    while (!recent_.empty() && (recent_.front().ts_ns + window_ns < ts_ns || recent_.size() > 256)) recent_.pop_front();
    for (const auto& r : recent_)
        if (r.outgoing == s.outgoing && r.src == s.src && r.dst == s.dst && r.sport == s.sport &&
            r.dport == s.dport && r.flags == s.tcp_flags && r.icmp_type == s.icmp_type && r.seq == s.seq &&
            r.ack == s.ack)
            return true;
    recent_.push_back({ts_ns, s.outgoing, s.src, s.dst, s.sport, s.dport, s.tcp_flags, s.icmp_type, s.seq, s.ack});
    return false;
}

void FrameDecoder::decode(const Segment& s, uint64_t ts_ns, const std::string& ifname, std::vector<Event>& out) {
    Event e;
    e.ts_ns = ts_ns;
    e.netns = netns_;
    e.ifindex = s.ifindex;
    e.ifname = ifname;
    e.tcp_flags = s.tcp_flags;
    const bool syn = s.tcp_flags & tcp_syn, ack = s.tcp_flags & tcp_ack, rst = s.tcp_flags & tcp_rst;
    // Oriented as the inbound SYN: src = client, dst = server.
    auto client_to_server = [&] {
        e.src = s.src;
        e.dst = s.dst;
        e.sport = s.sport;
        e.dport = s.dport;
    };
    auto server_to_client = [&] {
        e.src = s.dst;
        e.dst = s.src;
        e.sport = s.dport;
        e.dport = s.sport;
    };
    if (s.icmp_error) {
        // An error about a segment to the watched port, sent by this host: the SYN's answer.
        if (!s.outgoing || !ports_.contains(s.dport)) return;
        e.kind = EventKind::icmp_sent;
        e.outbound = true;
        e.icmp_type = s.icmp_type;
        e.icmp_code = s.icmp_code;
        client_to_server();
    } else if (!s.outgoing && ports_.contains(s.dport) && syn && !ack && !rst) {
        e.kind = EventKind::syn_rx;
        client_to_server();
    } else if (s.outgoing && ports_.contains(s.sport) && rst) {
        e.kind = EventKind::tx_rst;
        e.outbound = true;
        server_to_client();
    } else if (s.outgoing && ports_.contains(s.sport) && syn && ack) {
        e.kind = EventKind::tx_synack;
        e.outbound = true;
        server_to_client();
    } else if (!s.outgoing && ports_.contains(s.dport) && ack && !syn && !rst && !(s.tcp_flags & tcp_fin)) {
        // The client's ACK of the SYN-ACK that left: the handshake completed.
        auto it = synacks_.find({s.src, s.dst, s.sport, s.dport});
        if (it == synacks_.end() || s.ack != it->second.first + 1) return;
        synacks_.erase(it);
        e.kind = EventKind::established;
        client_to_server();
    } else {
        return;
    }
    if (duplicate(s, ts_ns)) return;
    if (e.kind == EventKind::syn_rx) syns_++;
    if (e.kind == EventKind::tx_synack) {
        // Bounded: a flood of half-open handshakes forgets the oldest first.
        constexpr size_t max_pending = 8192;
        if (synacks_.size() >= max_pending) {
            auto oldest = std::min_element(synacks_.begin(), synacks_.end(),
                                           [](const auto& a, const auto& b) { return a.second.second < b.second.second; });
            synacks_.erase(oldest);
        }
        synacks_[{e.src, e.dst, e.sport, e.dport}] = {s.seq, ts_ns};
    }
    e.packet = s.ip_packet;
    out.push_back(std::move(e));
}

}  // namespace synwhy::capture
