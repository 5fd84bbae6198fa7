// Loading and attaching the kernel side, and reading its ring buffer.
// Open -> set read-only config -> pick the program variants this kernel takes -> load -> attach.
// Everything attached is owned here: destroying the Tracer (or the process dying) detaches it all.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "diagnosis/model.h"
#include "kernel/btf_names.h"
#include "kernel/signal_fallbacks.h"
#include "tracer/port_set.h"

struct btf;
struct synwhy_bpf;
struct ring_buffer;

namespace synwhy {

// One kernel signal and whether this kernel gave it to us.
struct Capability {
    std::string name;     // "kfree_skb reason", "icmp_send", ...
    bool available = false;
    std::string detail;   // why not, or which variant
};

struct TracerOptions {
    std::vector<uint16_t> ports;
    uint32_t netns = 0;  // netns inode to watch; 0 = every namespace
    bool copy_packets = false;  // --pcap: SYNs and replies carry their first bytes
    // The watched netns's addresses, read in it (host::list_local_addresses): once before the
    // programs are attached (no SYN is ever taken for a forwarded one for want of them), again on
    // each rtnetlink address change. Unset, or with netns 0, no SYN is told forwarded in the kernel.
    std::function<std::vector<IpAddr>(std::string& error)> read_addresses;
};

// SYNs that reached a port nobody watches, per source (see struct synwhy_other_port_key).
struct OtherPortSyns {
    uint32_t netns = 0;
    uint16_t family = 0;   // AF_INET / AF_INET6
    uint8_t saddr[16] = {};
    uint8_t daddr[16] = {};
    uint16_t dport = 0;
    uint64_t count = 0;
};

struct TracerStats {
    uint64_t ringbuf_full = 0;  // events the kernel could not hand over
    uint64_t syns_seen = 0;     // inbound SYNs to watched ports, counted in the kernel
    uint64_t rate_limited = 0;  // packet events held back by the kernel's detail rate bound
    uint64_t syns_forwarded = 0;  // inbound SYNs to watched ports to an address not the namespace's (not DNATed to it)
};

// An exact total kept in the kernel (see struct synwhy_count_key): raw, named by the caller.
struct KernelCount {
    uint32_t netns = 0;
    uint16_t port = 0;
    uint8_t kind = 0;    // enum synwhy_event_kind
    uint8_t what = 0;    // TCP flags, or the ICMP type
    uint32_t reason = 0; // drop reason; reset reason + 1
    uint64_t count = 0;
};

class Tracer {
public:
    using RawHandler = std::function<void(const void* data, size_t size)>;

    // nullptr and a one-line error when it cannot be loaded.
    static std::unique_ptr<Tracer> start(const TracerOptions& options, std::string& error);
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    const std::vector<Capability>& capabilities() const { return capabilities_; }
    // Signals this kernel lacks and what stands in for each (see kernel/signal_fallbacks.h).
    const std::vector<kernel::SignalFallback>& fallbacks() const { return fallbacks_; }
    // Names from the running kernel's BTF (enum skb_drop_reason, enum sk_rst_reason).
    const kernel::EnumNames& drop_reason_names() const { return drop_reasons_; }
    const kernel::EnumNames& reset_reason_names() const { return reset_reasons_; }

    // Waits up to timeout for records and hands each to handler. Returns false on a hard error.
    bool poll(std::chrono::milliseconds timeout, const RawHandler& handler);
    // For a caller that waits on several sources: an fd readable when records are pending, and
    // the non-blocking read of what is there.
    int ready_fd() const;
    bool consume(const RawHandler& handler);  // at most one bounded batch per call
    TracerStats stats() const;
    std::vector<KernelCount> kernel_counts() const;
    std::vector<OtherPortSyns> other_port_syns() const;
    // Reports this process's exit (it owns a listener on a watched port).
    void watch_process(uint32_t pid);
    // The watched netns's addresses: a SYN to a watched port to another address is one it only
    // forwards (counted apart); SYNs to them seen on a macvlan lower device in another netns (a
    // macvlan container's) count as arriving in the watched one. Replaces the last set; an empty
    // set (addresses unreadable) makes the kernel take no SYN for a forwarded one.
    void set_watched_addresses(const std::vector<IpAddr>& addresses);
    // Whether the kernel holds the whole set, and so sends up only the watched namespace's own
    // SYNs (false with --all-netns, or when the addresses could not be read or did not fit).
    bool addresses_known() const { return addresses_known_; }

private:
    Tracer() = default;
    struct synwhy_bpf* skel_ = nullptr;
    struct ring_buffer* ringbuf_ = nullptr;
    struct btf* btf_ = nullptr;  // during start() only
    kernel::EnumNames drop_reasons_, reset_reasons_;
    std::vector<Capability> capabilities_;
    std::vector<kernel::SignalFallback> fallbacks_;
    // rtnetlink address notifications of the watched netns (-1: not followed), drained at each
    // consume()/poll(): an address added or removed is in the kernel's set within a poll interval.
    int addr_events_fd_ = -1;
    bool addresses_known_ = false;
    uint32_t watch_netns_ = 0;
    bool ipvlan_looked_up_ = false;  // /proc/kallsyms read once: again only when the module is there
    void refresh_ipvlan_handler();
    std::function<std::vector<IpAddr>(std::string& error)> read_addresses_;
    void refresh_addresses_if_changed();
    const RawHandler* handler_ = nullptr;  // valid during poll() only
    uint32_t batch_records_ = 0;
    static int on_sample(void* ctx, void* data, size_t size);
};

}  // namespace synwhy
