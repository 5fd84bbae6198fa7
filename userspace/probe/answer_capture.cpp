#include "probe/answer_capture.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace synwhy::probe {

namespace {

uint16_t read16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

std::string address_text(int family, const uint8_t* bytes) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
    return text;
}

bool same_remote(const Flow& flow, const uint8_t* bytes) {
    return std::memcmp(flow.remote.data(), bytes, flow.family == 4 ? 4 : 16) == 0;
}

// The TCP ports of our SYN quoted in an ICMP error: the quoted packet went to flow.remote.
bool quotes_our_syn(const Flow& flow, const uint8_t* quoted, size_t length) {
    if (flow.family == 4) {
        if (length < 20 || (quoted[0] >> 4) != 4 || quoted[9] != IPPROTO_TCP) return false;
        size_t ihl = size_t(quoted[0] & 0x0f) * 4;
        return length >= ihl + 4 && same_remote(flow, quoted + 16) && read16(quoted + ihl) == flow.local_port &&
               read16(quoted + ihl + 2) == flow.remote_port;
    }
    return length >= 44 && quoted[6] == IPPROTO_TCP && same_remote(flow, quoted + 24) &&
           read16(quoted + 40) == flow.local_port && read16(quoted + 42) == flow.remote_port;
}

}  // namespace

std::optional<SeenPacket> match_packet(const uint8_t* data, size_t length, bool outgoing, const Flow& flow) {
    size_t header;
    int protocol, ttl;
    const uint8_t *src, *dst;
    if (flow.family == 4) {
        if (length < 20 || (data[0] >> 4) != 4) return std::nullopt;
        header = size_t(data[0] & 0x0f) * 4;
        protocol = data[9], ttl = data[8], src = data + 12, dst = data + 16;
    } else {
        if (length < 40 || (data[0] >> 4) != 6) return std::nullopt;
        header = 40;  // extension headers are not followed: the probe's packets carry none
        protocol = data[6], ttl = data[7], src = data + 8, dst = data + 24;
    }
    if (length < header + 8) return std::nullopt;
    const uint8_t* l4 = data + header;
    SeenPacket seen;
    seen.ttl = ttl;
    seen.from = address_text(flow.family, src);
    if (protocol == IPPROTO_TCP && length >= header + 14) {
        uint8_t flags = l4[13];
        if (outgoing && same_remote(flow, dst) && read16(l4) == flow.local_port && read16(l4 + 2) == flow.remote_port &&
            (flags & (tcp_syn | tcp_ack)) == tcp_syn) {
            seen.kind = SeenPacket::Kind::syn_out;
            return seen;
        }
        if (!outgoing && same_remote(flow, src) && read16(l4) == flow.remote_port && read16(l4 + 2) == flow.local_port) {
            seen.kind = SeenPacket::Kind::tcp_in;
            seen.tcp_flags = flags;
            return seen;
        }
        return std::nullopt;
    }
    bool icmp = (flow.family == 4 && protocol == IPPROTO_ICMP && (l4[0] == 3 || l4[0] == 11)) ||
                (flow.family == 6 && protocol == IPPROTO_ICMPV6 && l4[0] >= 1 && l4[0] <= 4);
    if (outgoing || !icmp || !quotes_our_syn(flow, l4 + 8, length - header - 8)) return std::nullopt;
    seen.kind = SeenPacket::Kind::icmp_in;
    seen.icmp_type = l4[0];
    seen.icmp_code = l4[1];
    return seen;
}

void record_packet(const SeenPacket& p, Handshake& h) {
    switch (p.kind) {
    case SeenPacket::Kind::syn_out:
        h.syns_sent++;
        h.syns_counted_on_wire = true;
        return;
    case SeenPacket::Kind::tcp_in:
        // The first answer is the one that decided the handshake; later segments (the banner) are not.
        if (!h.ttl && (p.tcp_flags & (tcp_rst | tcp_syn))) {
            h.ttl = p.ttl;
            h.from = p.from;
        }
        return;
    case SeenPacket::Kind::icmp_in:
        if (!h.ttl) {
            h.ttl = p.ttl;
            h.from = p.from;
            h.icmp_type = p.icmp_type;
            h.icmp_code = p.icmp_code;
        }
        return;
    }
}

namespace {

// In the kernel, before copying: only TCP, ICMP and ICMPv6 (offsets from the IP header, as a
// SOCK_DGRAM packet socket sees it). The flow itself is matched in user space.
void attach_protocol_filter(int fd) {
    static sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),                       // 0: version << 4 | ...
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),                      // 1
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 3),                // 2: IPv4 -> 3, else 6
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),                       // 3: protocol
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 5, 0),      // 4: -> 10
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 4, 5),     // 5: -> 10, else 11
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 4),                // 6: IPv6 -> 7, else 11
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),                       // 7: next header
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 1, 0),      // 8: -> 10
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, 1),   // 9: -> 10, else 11
        BPF_STMT(BPF_RET | BPF_K, 0xffff),                           // 10: keep
        BPF_STMT(BPF_RET | BPF_K, 0),                                // 11: not ours
    };
    sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    // Without it (it never fails on Linux): every packet, filtered in user space all the same.
    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

}  // namespace

std::unique_ptr<AnswerCapture> AnswerCapture::open(std::string& why_not) {
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) {
        why_not = errno == EPERM ? "the answer packets (TTL, SYNs on the wire) need CAP_NET_RAW: run as root to see them"
                                 : std::string("packet socket: ") + std::strerror(errno);
        return nullptr;
    }
    attach_protocol_filter(fd);
    int size = 4 << 20;  // room for a busy client's traffic between two drains
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return std::unique_ptr<AnswerCapture>(new AnswerCapture(fd));
}

AnswerCapture::~AnswerCapture() { close(fd_); }

void AnswerCapture::drain(const Flow& flow, Handshake& h) {
    std::vector<uint8_t> buf(65536);
    for (;;) {
        sockaddr_ll ll{};
        socklen_t ll_len = sizeof ll;
        ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ll), &ll_len);
        if (n < 0) return;  // EAGAIN: nothing more now
        uint16_t protocol = ntohs(ll.sll_protocol);
        if ((flow.family == 4 && protocol != ETH_P_IP) || (flow.family == 6 && protocol != ETH_P_IPV6)) continue;
        bool outgoing = ll.sll_pkttype == PACKET_OUTGOING;
        if (auto seen = match_packet(buf.data(), size_t(n), outgoing, flow)) record_packet(*seen, h);
    }
}

}  // namespace synwhy::probe
