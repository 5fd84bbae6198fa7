#include "render/pcap.h"
#include "render/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <pcap/pcap.h>

namespace synwhy {

namespace {
constexpr int snaplen = 256;
}

uint32_t ip_packet_length(const std::vector<uint8_t>& p) {
    if (p.empty()) return 0;
    uint8_t version = p[0] >> 4;
    if (version == 4 && p.size() >= 4) return uint32_t(p[2]) << 8 | p[3];
    if (version == 6 && p.size() >= 6) return 40 + (uint32_t(p[4]) << 8 | p[5]);
    return static_cast<uint32_t>(p.size());
}

std::unique_ptr<PcapWriter> PcapWriter::create(const std::string& path, std::string& error) {
    // Created new (O_EXCL, 0644) and renamed into place: synwhy runs as root and the path is the
    // user's, so whatever stands at it (a symlink to /etc/shadow) is replaced, not written through.
    std::string create_error;
    int fd = create_file_replacing(path, create_error);
    if (fd < 0) {
        error = "--pcap: " + create_error;
        return nullptr;
    }
    FILE* f = fdopen(fd, "wb");
    if (!f) {
        error = fmt::format("--pcap: {}: {}", path, strerror(errno));
        close(fd);
        return nullptr;
    }
    std::unique_ptr<PcapWriter> w(new PcapWriter());
    w->dead_ = pcap_open_dead(DLT_RAW, snaplen);
    w->dumper_ = w->dead_ ? pcap_dump_fopen(w->dead_, f) : nullptr;
    if (!w->dumper_) {
        error = fmt::format("--pcap: {}: {}", path, w->dead_ ? pcap_geterr(w->dead_) : "pcap_open_dead failed");
        fclose(f);
        return nullptr;
    }
    return w;
}

PcapWriter::~PcapWriter() {
    if (dumper_) pcap_dump_close(dumper_);  // flushes and closes the file
    if (dead_) pcap_close(dead_);
}

void PcapWriter::write(const Event& e) {
    if (e.packet.empty() || !dumper_) return;
    struct pcap_pkthdr h {};
    h.ts.tv_sec = static_cast<time_t>(e.ts_ns / 1000000000ULL);
    h.ts.tv_usec = static_cast<suseconds_t>((e.ts_ns / 1000ULL) % 1000000ULL);
    uint32_t wire = ip_packet_length(e.packet);
    h.caplen = static_cast<uint32_t>(std::min<size_t>(e.packet.size(), wire));
    h.len = std::max(wire, h.caplen);
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, e.packet.data());
    written_++;
}

void PcapWriter::flush() {
    if (dumper_) pcap_dump_flush(dumper_);
}

}  // namespace synwhy
