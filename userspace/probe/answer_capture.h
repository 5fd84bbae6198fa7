// As root: the answer packets themselves, from a packet socket (AF_PACKET, SOCK_DGRAM), for what the
// socket API does not tell: the TTL / hop limit of a SYN-ACK, RST or ICMP error, the sender of an
// ICMP error, and how many SYNs really left.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "probe/model.h"

namespace synwhy::probe {

// One probe connection: our local port and the remote end.
struct Flow {
    int family = 4;
    std::array<uint8_t, 16> remote{};  // 4 or 16 bytes used
    uint16_t local_port = 0, remote_port = 0;
};

// What one packet of a flow was.
struct SeenPacket {
    enum class Kind { syn_out, tcp_in, icmp_in } kind = Kind::tcp_in;
    int ttl = 0;
    std::string from;       // the sender (numeric)
    uint8_t tcp_flags = 0;  // tcp_in
    int icmp_type = 0, icmp_code = 0;
};

inline constexpr uint8_t tcp_syn = 0x02, tcp_rst = 0x04, tcp_ack = 0x10;

// Classifies one packet (starting at its IPv4 / IPv6 header) against flow; nullopt when it is not
// the flow's (or is too short). outgoing: the packet socket saw it leave.
std::optional<SeenPacket> match_packet(const uint8_t* data, size_t length, bool outgoing, const Flow& flow);

// Folds a seen packet into a handshake's record (SYN count, the answer's TTL and sender).
void record_packet(const SeenPacket& packet, Handshake& h);

class AnswerCapture {
public:
    // nullopt-like: nullptr and why_not set ("needs CAP_NET_RAW (run as root)").
    static std::unique_ptr<AnswerCapture> open(std::string& why_not);
    ~AnswerCapture();
    AnswerCapture(const AnswerCapture&) = delete;
    AnswerCapture& operator=(const AnswerCapture&) = delete;
    int fd() const { return fd_; }
    // Reads every packet queued now; those of flow go into h.
    void drain(const Flow& flow, Handshake& h);

private:
    explicit AnswerCapture(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace synwhy::probe
