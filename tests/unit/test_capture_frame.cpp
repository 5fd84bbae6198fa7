// The packet-socket capture (no BPF): cooked frames -> segments -> the events the tracer gives,
// over byte fixtures; its classic BPF filter, compiled by libpcap and run on the same frames.
#include <gtest/gtest.h>

#include <pcap/pcap.h>

#include <cstring>

#include "capture/frame.h"

using namespace synwhy;
using namespace synwhy::capture;

namespace {

constexpr uint8_t SYN = 0x02, RST = 0x04, ACK = 0x10, PSH = 0x08;

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
    b[at] = uint8_t(v >> 8);
    b[at + 1] = uint8_t(v);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b[at + i] = uint8_t(v >> (24 - 8 * i));
}

// SLL2 header: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length + address.
std::vector<uint8_t> sll2(uint16_t ethertype, uint32_t ifindex, bool outgoing) {
    std::vector<uint8_t> b(20, 0);
    put16(b, 0, ethertype);
    put32(b, 4, ifindex);
    put16(b, 8, 1);
    b[10] = outgoing ? 4 : 0;
    b[11] = 6;
    return b;
}

std::vector<uint8_t> tcp_header(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags) {
    std::vector<uint8_t> t(20, 0);
    put16(t, 0, sport);
    put16(t, 2, dport);
    put32(t, 4, seq);
    put32(t, 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t, 14, 64240);
    return t;
}

std::vector<uint8_t> ipv4(const char* src, const char* dst, uint8_t proto, const std::vector<uint8_t>& l4) {
    std::vector<uint8_t> ip(20, 0);
    ip[0] = 0x45;
    put16(ip, 2, uint16_t(20 + l4.size()));
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(&ip[12], IpAddr::parse(src)->bytes.data(), 4);
    std::memcpy(&ip[16], IpAddr::parse(dst)->bytes.data(), 4);
    ip.insert(ip.end(), l4.begin(), l4.end());
    return ip;
}

// With a hop-by-hop options header before the transport header when hbh is set.
std::vector<uint8_t> ipv6(const char* src, const char* dst, uint8_t proto, const std::vector<uint8_t>& l4,
                          bool hbh = false) {
    std::vector<uint8_t> ip(40, 0);
    ip[0] = 0x60;
    std::vector<uint8_t> body;
    if (hbh) {
        body = {proto, 0, 1, 4, 0, 0, 0, 0};  // next header, length 0 (8 bytes), PadN
        proto = 0;
    }
    body.insert(body.end(), l4.begin(), l4.end());
    put16(ip, 4, uint16_t(body.size()));
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(&ip[8], IpAddr::parse(src)->bytes.data(), 16);
    std::memcpy(&ip[24], IpAddr::parse(dst)->bytes.data(), 16);
    ip.insert(ip.end(), body.begin(), body.end());
    return ip;
}

std::vector<uint8_t> frame(const std::vector<uint8_t>& ip, uint32_t ifindex, bool outgoing) {
    auto b = sll2((ip[0] >> 4) == 4 ? 0x0800 : 0x86dd, ifindex, outgoing);
    b.insert(b.end(), ip.begin(), ip.end());
    return b;
}

std::vector<uint8_t> v4_segment(const char* s, uint16_t sp, const char* d, uint16_t dp, uint32_t seq, uint32_t ack,
                                uint8_t flags, bool outgoing, size_t payload = 0) {
    auto t = tcp_header(sp, dp, seq, ack, flags);
    t.resize(t.size() + payload, 'x');
    return frame(ipv4(s, d, 6, t), 7, outgoing);
}

// Parses and decodes every frame, in order, 1 ms apart unless told.
std::vector<Event> decode_all(FrameDecoder& dec, const std::vector<std::vector<uint8_t>>& frames, uint64_t t0 = 1000,
                              uint64_t step = 1'000'000) {
    std::vector<Event> out;
    uint64_t ts = t0;
    for (const auto& f : frames) {
        auto s = parse_frame(f.data(), f.size(), linktype_sll2);
        if (s) dec.decode(*s, ts, "veth-srv", out);
        ts += step;
    }
    return out;
}

}  // namespace

TEST(CaptureFrame, SynArrivingIsSynRxFromTheClient) {
    auto f = v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 100, 0, SYN, false);
    auto s = parse_frame(f.data(), f.size(), linktype_sll2);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->ifindex, 7u);
    EXPECT_FALSE(s->outgoing);
    EXPECT_EQ(s->payload, 0u);
    FrameDecoder dec({22}, 4026531840u);
    std::vector<Event> out;
    dec.decode(*s, 5, "veth-srv", out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].kind, EventKind::syn_rx);
    EXPECT_EQ(out[0].src.str(), "192.0.2.1");
    EXPECT_EQ(out[0].dport, 22);
    EXPECT_EQ(out[0].netns, 4026531840u);
    EXPECT_EQ(out[0].ifindex, 7u);
    EXPECT_EQ(out[0].ifname, "veth-srv");
    EXPECT_EQ(out[0].ts_ns, 5u);
    EXPECT_FALSE(out[0].packet.empty());  // the IP packet, for --pcap
    EXPECT_EQ(out[0].packet[0], 0x45);
    EXPECT_EQ(dec.syns_seen(), 1u);
}

TEST(CaptureFrame, SynAckThenTheClientsAckCompletesTheHandshake) {
    FrameDecoder dec({22}, 1);
    auto out = decode_all(dec, {
        v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 100, 0, SYN, false),
        v4_segment("192.0.2.2", 22, "192.0.2.1", 40000, 5000, 101, SYN | ACK, true),
        v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 101, 4000, ACK, false),  // acks something else
        v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 101, 5001, ACK, false),
        v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 101, 5001, ACK, false),  // later ACKs: nothing
    });
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[1].kind, EventKind::tx_synack);
    EXPECT_TRUE(out[1].outbound);
    EXPECT_EQ(out[1].src.str(), "192.0.2.1");  // oriented as the SYN
    EXPECT_EQ(out[1].sport, 40000);
    EXPECT_EQ(out[1].dport, 22);
    EXPECT_EQ(out[2].kind, EventKind::established);
    EXPECT_EQ(out[2].src.str(), "192.0.2.1");
    EXPECT_EQ(out[2].dport, 22);
}

TEST(CaptureFrame, RstLeavingIsTxRstOrientedAsTheSyn) {
    FrameDecoder dec({22}, 1);
    auto out = decode_all(dec, {v4_segment("192.0.2.2", 22, "192.0.2.1", 40000, 0, 101, RST | ACK, true)});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].kind, EventKind::tx_rst);
    EXPECT_TRUE(out[0].outbound);
    EXPECT_EQ(out[0].src.str(), "192.0.2.1");
    EXPECT_EQ(out[0].sport, 40000);
    EXPECT_EQ(out[0].dst.str(), "192.0.2.2");
    EXPECT_EQ(out[0].dport, 22);
}

TEST(CaptureFrame, OtherPortsAndDirectionsAreNotEvents) {
    FrameDecoder dec({22}, 1);
    auto out = decode_all(dec, {
        v4_segment("192.0.2.1", 40000, "192.0.2.2", 80, 1, 0, SYN, false),      // another port
        v4_segment("192.0.2.2", 50000, "192.0.2.9", 22, 1, 0, SYN, true),       // this host's own SSH client
        v4_segment("192.0.2.9", 22, "192.0.2.2", 50000, 1, 2, SYN | ACK, false),  // ... and its answer
        v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 1, 2, ACK | PSH, false, 30),  // data, no handshake known
    });
    EXPECT_TRUE(out.empty());
}

TEST(CaptureFrame, IcmpUnreachableQuotingTheSynIsIcmpSent) {
    auto syn = ipv4("192.0.2.1", "192.0.2.2", 6, tcp_header(40000, 22, 100, 0, SYN));
    std::vector<uint8_t> icmp = {3, 3, 0, 0, 0, 0, 0, 0};
    icmp.insert(icmp.end(), syn.begin(), syn.begin() + 28);  // IP header + 8 bytes, the minimum quoted
    auto f = frame(ipv4("192.0.2.2", "192.0.2.1", 1, icmp), 7, true);
    FrameDecoder dec({22}, 1);
    auto out = decode_all(dec, {f});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].kind, EventKind::icmp_sent);
    EXPECT_EQ(out[0].icmp_type, 3);
    EXPECT_EQ(out[0].icmp_code, 3);
    EXPECT_EQ(out[0].src.str(), "192.0.2.1");
    EXPECT_EQ(out[0].sport, 40000);
    EXPECT_EQ(out[0].dport, 22);
    // The same error arriving (another host refused this host's own connection) is not ours.
    auto in = frame(ipv4("192.0.2.2", "192.0.2.1", 1, icmp), 7, false);
    FrameDecoder dec2({22}, 1);
    EXPECT_TRUE(decode_all(dec2, {in}).empty());
}

TEST(CaptureFrame, Ipv6SynBehindAHopByHopHeaderAndIcmpv6) {
    auto f = frame(ipv6("2001:db8::1", "2001:db8::2", 6, tcp_header(40000, 22, 7, 0, SYN), true), 3, false);
    auto s = parse_frame(f.data(), f.size(), linktype_sll2);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->src.str(), "2001:db8::1");
    EXPECT_EQ(s->dport, 22);
    EXPECT_EQ(s->tcp_flags, SYN);

    auto quoted = ipv6("2001:db8::1", "2001:db8::2", 6, tcp_header(40000, 22, 7, 0, SYN));
    std::vector<uint8_t> icmp = {1, 4, 0, 0, 0, 0, 0, 0};
    icmp.insert(icmp.end(), quoted.begin(), quoted.end());
    auto err = frame(ipv6("2001:db8::2", "2001:db8::1", 58, icmp), 3, true);
    FrameDecoder dec({22}, 1);
    auto out = decode_all(dec, {f, err});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].kind, EventKind::icmp_sent);
    EXPECT_EQ(out[1].icmp_type, 1);
    EXPECT_EQ(out[1].icmp_code, 4);
    EXPECT_EQ(out[1].src.str(), "2001:db8::1");
}

TEST(CaptureFrame, OneFrameOnTwoDevicesIsOneSynARetransmissionIsTwo) {
    FrameDecoder dec({22}, 1);
    auto syn = v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 100, 0, SYN, false);
    auto on_bridge = syn;
    on_bridge[7] = 9;  // the same frame, seen again on the bridge (another ifindex)
    auto out = decode_all(dec, {syn, on_bridge}, 1000, 10'000);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ifindex, 7u);  // the first device it was seen on
    out = decode_all(dec, {syn}, 1'000'000'000);  // the client's retransmission, a second later
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(dec.syns_seen(), 2u);
}

TEST(CaptureFrame, TruncatedOrForeignFramesAreRefused) {
    auto f = v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 100, 0, SYN, false);
    for (size_t n = 0; n < 20 + 20 + 20; n++) EXPECT_FALSE(parse_frame(f.data(), n, linktype_sll2)) << n;
    EXPECT_TRUE(parse_frame(f.data(), f.size(), linktype_sll2));
    EXPECT_FALSE(parse_frame(f.data(), f.size(), 1 /* Ethernet: not asked for */));
    auto arp = f;
    arp[0] = 0x08;
    arp[1] = 0x06;
    EXPECT_FALSE(parse_frame(arp.data(), arp.size(), linktype_sll2));
    auto fragment = f;
    fragment[20 + 7] = 0x10;  // a later fragment
    EXPECT_FALSE(parse_frame(fragment.data(), fragment.size(), linktype_sll2));
}

TEST(CaptureFrame, SllWithoutIfindexGivesTheDirection) {
    auto ip = ipv4("192.0.2.2", "192.0.2.1", 6, tcp_header(22, 40000, 0, 1, RST));
    std::vector<uint8_t> f(16, 0);
    put16(f, 0, 4);  // PACKET_OUTGOING
    put16(f, 14, 0x0800);
    f.insert(f.end(), ip.begin(), ip.end());
    auto s = parse_frame(f.data(), f.size(), linktype_sll);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->outgoing);
    EXPECT_EQ(s->ifindex, 0u);
    EXPECT_EQ(s->tcp_flags, RST);
}

TEST(CaptureFilter, CompilesAndKeepsOnlyWhatTheEventsNeed) {
    pcap_t* dead = pcap_open_dead(linktype_sll2, 256);
    ASSERT_NE(dead, nullptr);
    struct bpf_program prog {};
    std::string filter = capture_filter({22, 2222});
    ASSERT_EQ(pcap_compile(dead, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN), 0) << pcap_geterr(dead) << "\n" << filter;
    auto passes = [&](const std::vector<uint8_t>& f) {
        struct pcap_pkthdr h {};
        h.caplen = h.len = uint32_t(f.size());
        return pcap_offline_filter(&prog, &h, f.data()) != 0;
    };
    EXPECT_TRUE(passes(v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 1, 0, SYN, false)));
    EXPECT_TRUE(passes(v4_segment("192.0.2.1", 40000, "192.0.2.2", 2222, 1, 0, SYN, false)));
    EXPECT_TRUE(passes(v4_segment("192.0.2.2", 22, "192.0.2.1", 40000, 1, 2, SYN | ACK, true)));
    EXPECT_TRUE(passes(v4_segment("192.0.2.2", 22, "192.0.2.1", 40000, 0, 2, RST | ACK, true)));
    EXPECT_TRUE(passes(v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 2, 2, ACK, false)));       // pure ACK
    EXPECT_FALSE(passes(v4_segment("192.0.2.1", 40000, "192.0.2.2", 22, 2, 2, ACK | PSH, false, 40)));  // data
    EXPECT_FALSE(passes(v4_segment("192.0.2.1", 40000, "192.0.2.2", 80, 1, 0, SYN, false)));
    auto v6 = [&](uint8_t flags, size_t payload) {
        auto t = tcp_header(40000, 22, 1, 0, flags);
        t.resize(t.size() + payload, 'x');
        return frame(ipv6("2001:db8::1", "2001:db8::2", 6, t), 3, false);
    };
    EXPECT_TRUE(passes(v6(SYN, 0)));
    EXPECT_TRUE(passes(v6(ACK, 0)));
    EXPECT_FALSE(passes(v6(ACK | PSH, 40)));
    auto quoted = ipv6("2001:db8::1", "2001:db8::2", 6, tcp_header(40000, 22, 7, 0, SYN));
    std::vector<uint8_t> icmp = {1, 4, 0, 0, 0, 0, 0, 0};
    icmp.insert(icmp.end(), quoted.begin(), quoted.end());
    EXPECT_TRUE(passes(frame(ipv6("2001:db8::2", "2001:db8::1", 58, icmp), 3, true)));
    std::vector<uint8_t> echo = {128, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_FALSE(passes(frame(ipv6("2001:db8::2", "2001:db8::1", 58, echo), 3, true)));
    pcap_freecode(&prog);
    pcap_close(dead);
}
