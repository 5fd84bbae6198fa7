#include "capture/packet_socket.h"

#include <pcap/pcap.h>

#include <fmt/format.h>

namespace synwhy::capture {

namespace {
// Headers only: SLL2 (20) + IPv6 (40) + extension headers + TCP with options, or an ICMP error
// quoting IP + TCP. --pcap keeps these bytes too.
constexpr int snaplen = 256;
constexpr int max_frames_per_read = 512;
}  // namespace

std::unique_ptr<PacketCapture> PacketCapture::open(const std::vector<uint16_t>& ports, std::string& error) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    std::unique_ptr<PacketCapture> c(new PacketCapture());
    c->handle_ = pcap_create("any", errbuf);
    if (!c->handle_) {
        error = fmt::format("packet socket: {}", errbuf);
        return nullptr;
    }
    pcap_set_snaplen(c->handle_, snaplen);
    pcap_set_timeout(c->handle_, 10);
    pcap_set_immediate_mode(c->handle_, 1);  // each frame as it comes: the report ends on time
    pcap_set_buffer_size(c->handle_, 4 << 20);
    int rc = pcap_activate(c->handle_);
    if (rc < 0) {
        // PCAP_ERROR_PERM_DENIED: no CAP_NET_RAW.
        error = rc == PCAP_ERROR_PERM_DENIED
                    ? "packet socket: permission denied (needs CAP_NET_RAW)"
                    : fmt::format("packet socket: {}", pcap_geterr(c->handle_));
        return nullptr;
    }
    // SLL2 carries the interface index; SLL (libpcap before 1.10) only the direction.
    if (pcap_set_datalink(c->handle_, linktype_sll2) != 0 && pcap_set_datalink(c->handle_, linktype_sll) != 0) {
        error = fmt::format("packet socket: no cooked link type: {}", pcap_geterr(c->handle_));
        return nullptr;
    }
    c->linktype_ = pcap_datalink(c->handle_);
    struct bpf_program program {};
    std::string filter = capture_filter(ports);
    if (pcap_compile(c->handle_, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        error = fmt::format("packet socket: filter: {}", pcap_geterr(c->handle_));
        return nullptr;
    }
    rc = pcap_setfilter(c->handle_, &program);
    pcap_freecode(&program);
    if (rc != 0) {
        error = fmt::format("packet socket: filter: {}", pcap_geterr(c->handle_));
        return nullptr;
    }
    if (pcap_setnonblock(c->handle_, 1, errbuf) != 0) {
        error = fmt::format("packet socket: {}", errbuf);
        return nullptr;
    }
    c->fd_ = pcap_get_selectable_fd(c->handle_);
    if (c->fd_ < 0) {
        error = "packet socket: no selectable descriptor";
        return nullptr;
    }
    return c;
}

PacketCapture::~PacketCapture() {
    if (handle_) pcap_close(handle_);
}

bool PacketCapture::read(const std::function<void(const uint8_t*, size_t, uint64_t)>& handler) {
    struct Ctx {
        const std::function<void(const uint8_t*, size_t, uint64_t)>* handler;
    } ctx{&handler};
    auto cb = [](u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
        auto* c = reinterpret_cast<Ctx*>(user);
        uint64_t ts = uint64_t(h->ts.tv_sec) * 1000000000ULL + uint64_t(h->ts.tv_usec) * 1000ULL;
        (*c->handler)(bytes, h->caplen, ts);
    };
    int n = pcap_dispatch(handle_, max_frames_per_read, cb, reinterpret_cast<u_char*>(&ctx));
    return n >= 0;
}

uint64_t PacketCapture::dropped() const {
    struct pcap_stat st {};
    if (pcap_stats(handle_, &st) != 0) return 0;
    return st.ps_drop;
}

}  // namespace synwhy::capture
