// One TCP handshake attempt, as bounded as a normal ssh connect: the kernel's own SYN retries
// (TCP_SYNCNT), the ICMP sender from the socket's error queue (IP_RECVERR, no privileges needed),
// and after a SYN-ACK the server's first line (the SSH banner, or not).
#pragma once

#include <chrono>
#include <string>

#include "probe/answer_capture.h"
#include "probe/model.h"

namespace synwhy::probe {

struct HandshakeLimits {
    std::chrono::milliseconds timeout{5000};      // the whole connect attempt
    int syn_retries = 2;                          // 3 SYNs at most: ssh sends 3 in its first 5 s
    std::chrono::milliseconds banner_wait{2000};  // after the SYN-ACK; 0 = do not read
};

// Classifies a first line from the server: ssh ("SSH-2.0-..."), not_ssh, closed (nothing before
// the close), silent (nothing at all).
Banner classify_banner(const std::string& received, bool closed);

// The first line of received, printable and at most 100 characters.
std::string banner_line(const std::string& received);

// capture may be null (not root): then TTLs are unknown and SYNs are counted from TCP_INFO.
Handshake run_handshake(const std::string& addr, int family, uint16_t port, const HandshakeLimits& limits,
                        AnswerCapture* capture);

}  // namespace synwhy::probe
