// --pcap: the watched SYNs and the RSTs / SYN-ACKs / ICMP errors sent for them, as the kernel saw
// them (their first bytes, from the IP header on), in a file Wireshark and tshark open.
#pragma once

#include <memory>
#include <string>

#include "diagnosis/model.h"

typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;

namespace synwhy {

class PcapWriter {
public:
    // nullptr and a one-line error when the file cannot be created.
    static std::unique_ptr<PcapWriter> create(const std::string& path, std::string& error);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Writes the event's packet, if it carries one (LINKTYPE_RAW: IPv4 or IPv6, no link header).
    void write(const Event& e);
    // After each batch: a watch ended by SIGKILL still leaves a readable file.
    void flush();
    uint64_t written() const { return written_; }

private:
    PcapWriter() = default;
    pcap_t* dead_ = nullptr;
    pcap_dumper_t* dumper_ = nullptr;
    uint64_t written_ = 0;
};

// The packet's length on the wire from its own IP header (the capture may hold only its start).
uint32_t ip_packet_length(const std::vector<uint8_t>& packet);

}  // namespace synwhy
