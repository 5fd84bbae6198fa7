// What `watch` and `report` share: the attached tracer, the nft trace and iptables-legacy
// readers, the host snapshots, the outputs that follow every event (pcap, metrics), and the
// clocks. Opening it does every check that can fail before anything is attached.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "capture/frame.h"
#include "capture/packet_socket.h"
#include "cli/options.h"
#include "firewall/iptables_legacy.h"
#include "firewall/nft_trace.h"
#include "kernel/kallsyms.h"
#include "render/pcap.h"
#include "render/render.h"
#include "tracer/decode.h"
#include "tracer/tracer.h"

namespace synwhy::cli {

// Set by SIGINT/SIGTERM/SIGHUP: the loops end and print what was captured.
bool stop_requested();

class Session {
public:
    // nullptr after printing one line to stderr; `status` is then the exit status to use.
    static std::unique_ptr<Session> open(const CaptureOptions& options, int& status);
    ~Session();

    const CaptureOptions& options;
    std::string own_name;   // the --netns given, or ""
    uint32_t own_netns = 0;
    ReportContext ctx;      // ports, snapshots, kernel signals, firewall attribution
    std::unique_ptr<PcapWriter> pcap;

    // Waits up to `timeout` for kernel records and trace messages; appends what came to `batch`.
    bool collect(std::chrono::milliseconds timeout, std::vector<Event>& batch);
    // Snapshots of the watched namespaces, plus (with --all-netns) those of `also`, namespaces
    // seen in events that have no name under /run/netns (containers), entered via a process.
    std::vector<HostSnapshot> take_snapshots(const std::set<uint32_t>& also = {});
    // Listeners on the watched ports in the other namespaces (other-netns), into ctx.hosts[0].
    void find_foreign_listeners();
    // The namespaces flows were refused in behind a DNAT, looked into, into ctx.hosts[0].
    void look_into_dnat_targets(const std::vector<Flow>& flows);

    // iptables-legacy: the counters at the last reading and now (each flow finds its rule in them).
    firewall::LegacyReadings legacy_readings_since_last();
    bool legacy_present() const { return !legacy_before_.empty(); }

    // With the packet-socket capture: SYNs it saw, and frames the kernel dropped for synwhy (as lost).
    TracerStats stats() const;
    // Which capture runs: "bpf" or "packet-socket" (ctx.capture too).
    bool bpf() const { return tracer_ != nullptr; }
    // Whether the kernel sends up only SYNs to the watched namespace's own addresses (it counts the
    // ones it forwards apart); else the snapshots' addresses tell them (--all-netns).
    bool kernel_tells_forwarded() const { return tracer_ && tracer_->addresses_known(); }
    std::vector<KernelTotal> kernel_totals() const {
        return tracer_ ? name_kernel_counts(tracer_->kernel_counts(), names_) : std::vector<KernelTotal>{};
    }
    std::vector<OtherPortSyn> other_port_syns() const;
    uint64_t nft_lost() const { return nft_ ? nft_->lost() : 0; }
    // Removes everything synwhy put into the kernel; the session only reads snapshots after.
    void detach();

    // CLOCK_MONOTONIC, for deadlines and intervals (the wall clock may jump).
    static uint64_t monotonic_ns();
    // Now on the events' clock (wall time fixed at start: event timestamps are monotonic + offset).
    uint64_t event_clock_ns() const { return monotonic_ns() + clock_offset_; }
    uint64_t started_ns() const { return start_mono_; }

private:
    explicit Session(const CaptureOptions& o) : options(o) {}
    std::vector<firewall::LegacyRule> read_legacy() const;

    std::unique_ptr<Tracer> tracer_;
    // The capture without BPF: a packet socket in the watched netns and its frames' decoder.
    std::unique_ptr<capture::PacketCapture> packets_;
    std::unique_ptr<capture::FrameDecoder> frames_;
    std::map<uint32_t, std::string> ifnames_;  // ifindex -> name, for the packet capture
    bool read_packets(std::vector<Event>& batch);
    std::unique_ptr<firewall::NftTraceSession> nft_;
    KernelNames names_;
    std::map<uint64_t, std::string> symbols_;  // kernel text address -> "func+0xoff"
    PortSet ports_;
    std::vector<firewall::LegacyRule> legacy_before_;
    int64_t clock_offset_ = 0;
    uint64_t start_mono_ = 0;
    bool debug_events_ = false;
};

int run_watch(Session& session);
int run_report(Session& session);

}  // namespace synwhy::cli
