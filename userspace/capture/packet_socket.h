// The packet-socket capture: libpcap on Linux's "any" device of the namespace synwhy runs in (a
// packet socket belongs to the netns it was created in: open it after entering --netns), with a
// classic BPF filter, which needs no bpf() call, no BTF and no CAP_BPF: only CAP_NET_RAW.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "capture/frame.h"

struct pcap;

namespace synwhy::capture {

class PacketCapture {
public:
    // nullptr and a one-line error when the socket cannot be opened or filtered.
    static std::unique_ptr<PacketCapture> open(const std::vector<uint16_t>& ports, std::string& error);
    ~PacketCapture();
    PacketCapture(const PacketCapture&) = delete;
    PacketCapture& operator=(const PacketCapture&) = delete;

    int fd() const { return fd_; }  // readable when frames are waiting
    int linktype() const { return linktype_; }
    // Non-blocking: hands every frame waiting (at most a bounded batch) to handler, with its
    // capture time (CLOCK_REALTIME ns, as the kernel stamped it). False on a hard error.
    bool read(const std::function<void(const uint8_t* data, size_t caplen, uint64_t realtime_ns)>& handler);
    // Frames the kernel dropped because synwhy did not read fast enough.
    uint64_t dropped() const;

private:
    PacketCapture() = default;
    struct pcap* handle_ = nullptr;
    int fd_ = -1;
    int linktype_ = 0;
};

}  // namespace synwhy::capture
