#include "probe/handshake.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace synwhy::probe {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : int(left);
}

// A socket that closes itself.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) close(fd);
    }
};

struct Target {
    sockaddr_storage addr{};
    socklen_t length = 0;
    Flow flow;
};

bool make_target(const std::string& text, int family, uint16_t port, Target& t) {
    t.flow.family = family;
    t.flow.remote_port = port;
    if (family == 4) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&t.addr);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        t.length = sizeof *sin;
        if (inet_pton(AF_INET, text.c_str(), &sin->sin_addr) != 1) return false;
        std::memcpy(t.flow.remote.data(), &sin->sin_addr, 4);
        return true;
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    t.length = sizeof *sin6;
    if (inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) != 1) return false;
    std::memcpy(t.flow.remote.data(), &sin6->sin6_addr, 16);
    return true;
}

// A non-blocking TCP socket bound to an ephemeral port (known before the SYN: the capture's filter),
// with the ICMP error queue on and the SYN retries bounded.
int open_socket(int family, int syn_retries, uint16_t& local_port, std::string& error) {
    int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::strerror(errno);
        return -1;
    }
    int on = 1;
    if (family == 4) setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on);
    else setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syn_retries, sizeof syn_retries);
    sockaddr_storage local{};
    local.ss_family = family == 4 ? AF_INET : AF_INET6;
    socklen_t length = family == 4 ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), length) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0)
        local_port = ntohs(family == 4 ? reinterpret_cast<sockaddr_in*>(&local)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    return fd;
}

// The ICMP error the kernel queued for this socket (IP_RECVERR): type, code and who sent it.
void read_error_queue(int fd, int family, Handshake& h) {
    char data[256], control[512];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        bool ours = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
        if (!ours) continue;
        auto* ee = reinterpret_cast<sock_extended_err*>(CMSG_DATA(c));
        if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) continue;
        h.answer = Answer::icmp;
        h.icmp_type = ee->ee_type;
        h.icmp_code = ee->ee_code;
        const sockaddr* offender = SO_EE_OFFENDER(ee);
        char text[INET6_ADDRSTRLEN] = "";
        if (offender->sa_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(offender)->sin_addr, text, sizeof text);
        else if (offender->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(offender)->sin6_addr, text, sizeof text);
        if (text[0]) h.from = text;
        (void)family;
    }
}

// Waits for the connect to finish (or the deadline); fills h.answer. Returns true when connected.
bool wait_connected(int fd, const Target& t, Clock::time_point deadline, AnswerCapture* capture, Handshake& h) {
    for (;;) {
        pollfd fds[2] = {{fd, POLLOUT, 0}, {capture ? capture->fd() : -1, POLLIN, 0}};
        int n = poll(fds, capture ? 2 : 1, ms_left(deadline));
        if (capture && n > 0 && (fds[1].revents & POLLIN)) capture->drain(t.flow, h);
        if (n > 0 && fds[0].revents) break;
        if (n == 0 || Clock::now() >= deadline) {
            // An ICMP error that did not end the connect (a soft error) is still the answer: the
            // error queue's, or the one the packet socket saw for this flow.
            h.answer = Answer::none;
            read_error_queue(fd, t.flow.family, h);
            if (h.icmp_type) h.answer = Answer::icmp;
            return false;
        }
    }
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error == 0) {
        h.answer = Answer::syn_ack;
        return true;
    }
    h.error = std::strerror(error);
    h.error_number = error;
    read_error_queue(fd, t.flow.family, h);
    if (h.answer == Answer::icmp) return false;
    h.answer = error == ECONNREFUSED ? Answer::rst : error == ETIMEDOUT ? Answer::none : Answer::local_error;
    return false;
}

// The server's first line, up to a newline, 255 bytes or the wait.
void read_banner(int fd, std::chrono::milliseconds wait, Handshake& h) {
    auto deadline = Clock::now() + wait;
    std::string received;
    bool closed = false;
    while (received.find('\n') == std::string::npos && received.size() < 255) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, ms_left(deadline)) <= 0) break;
        char buf[256];
        ssize_t n = recv(fd, buf, 255 - received.size(), 0);
        if (n <= 0) {
            closed = n == 0 || errno == ECONNRESET;
            if (n < 0 && errno == EAGAIN) continue;
            break;
        }
        received.append(buf, size_t(n));
    }
    h.banner = classify_banner(received, closed);
    h.banner_text = banner_line(received);
}

void count_syns_from_tcp_info(int fd, Handshake& h) {
    if (h.syns_counted_on_wire) return;
    tcp_info info{};
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0) h.syns_sent = int(info.tcpi_total_retrans) + 1;
}

}  // namespace

Banner classify_banner(const std::string& received, bool closed) {
    if (received.empty()) return closed ? Banner::closed : Banner::silent;
    return received.rfind("SSH-", 0) == 0 ? Banner::ssh : Banner::not_ssh;
}

std::string banner_line(const std::string& received) {
    std::string line = received.substr(0, received.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > 100) line = line.substr(0, 100) + "...";
    for (auto& c : line)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return line;
}

Handshake run_handshake(const std::string& addr, int family, uint16_t port, const HandshakeLimits& limits,
                        AnswerCapture* capture) {
    Handshake h;
    h.port = port;
    Target t;
    if (!make_target(addr, family, port, t)) {
        h.answer = Answer::local_error;
        h.error = "not an address: " + addr;
        return h;
    }
    auto start = Clock::now();
    Fd sock{open_socket(family, limits.syn_retries, t.flow.local_port, h.error)};
    if (sock.fd < 0) {
        h.answer = Answer::local_error;
        return h;
    }
    if (capture) capture->drain(Flow{}, h);  // what was queued before this flow is not its
    bool connected = false;
    if (connect(sock.fd, reinterpret_cast<sockaddr*>(&t.addr), t.length) == 0) connected = true, h.answer = Answer::syn_ack;
    else if (errno != EINPROGRESS) {
        h.error_number = errno;
        h.error = std::strerror(errno);
        h.answer = errno == ECONNREFUSED ? Answer::rst : Answer::local_error;
    } else connected = wait_connected(sock.fd, t, start + limits.timeout, capture, h);
    if (connected && h.from.empty()) h.from = addr;
    if (connected && limits.banner_wait.count() > 0) read_banner(sock.fd, limits.banner_wait, h);
    if (capture) capture->drain(t.flow, h);
    if (h.answer == Answer::rst && h.from.empty()) h.from = addr;  // a RST carries the host's address, forged or not
    count_syns_from_tcp_info(sock.fd, h);
    h.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return h;
}

}  // namespace synwhy::probe
