#include "tracer/tracer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstdarg>
#include <cstring>

#include <fmt/format.h>

#include "kernel/btf_names.h"
#include "synwhy_bpf.skel.h"
#include "synwhy_events.h"

namespace synwhy {

namespace {

// libbpf's own messages are kept to be quoted in an error, not printed as they come.
thread_local std::string libbpf_log;

int collect_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG) return 0;
    char buf[1024];
    vsnprintf(buf, sizeof buf, format, args);
    libbpf_log += buf;
    return 0;
}

// One tracepoint and the variants of our program for it, keyed by the argument count they read.
struct TracepointPlan {
    const char* tracepoint;
    const char* signal;             // what the user loses without it
    bool required;
    std::vector<std::pair<int, struct bpf_program*>> variants;  // min args -> program, best first
};

}  // namespace

std::unique_ptr<Tracer> Tracer::start(const TracerOptions& options, std::string& error) {
    libbpf_set_print(collect_libbpf_log);
    libbpf_log.clear();
    std::unique_ptr<Tracer> t(new Tracer());

    t->btf_ = btf__load_vmlinux_btf();
    if (!t->btf_) {
        error = "this kernel exposes no BTF (/sys/kernel/btf/vmlinux): CONFIG_DEBUG_INFO_BTF=y is needed";
        return nullptr;
    }

    t->skel_ = synwhy_bpf__open();
    if (!t->skel_) {
        error = fmt::format("cannot open the BPF object: {}", strerror(errno));
        return nullptr;
    }
    PortSet ports(options.ports);
    std::memcpy(t->skel_->rodata->port_bitmap, ports.words().data(), sizeof t->skel_->rodata->port_bitmap);
    t->skel_->rodata->watch_netns = options.netns;
    t->watch_netns_ = options.netns;
    t->skel_->rodata->copy_packets = options.copy_packets;

    // Kernel drift, in one place: each tracepoint's argument list as it changed upstream.
    auto* p = &t->skel_->progs;
    std::vector<TracepointPlan> plans = {
        {"netif_receive_skb", "SYN arrival", true, {{1, p->syn_rx}}},
        // reason argument added in 5.17
        {"kfree_skb", "packet drops", true, {{3, p->kfree_skb_reason}, {2, p->kfree_skb_noreason}}},
        // sk_rst_reason argument added in 6.10
        {"tcp_send_reset", "TCP resets", false, {{3, p->tcp_send_reset_reason}, {2, p->tcp_send_reset_noreason}}},
        // a recent tracepoint (Debian backported it to its 6.1.1xx); without it ICMP errors are
        // still seen leaving through net_dev_queue
        {"icmp_send", "ICMP errors (IPv4, at the source)", false, {{3, p->icmp_send}}},
        {"net_dev_queue", "RSTs, SYN-ACKs and ICMP errors sent", false, {{1, p->tx}}},
        {"inet_sock_set_state", "accepted handshakes and listener changes", false, {{3, p->sock_state}}},
        {"tcp_retransmit_synack", "SYN-ACK retransmits", false, {{2, p->synack_retrans}}},
        {"sched_process_exit", "how a listening process ended", false, {{1, p->proc_exit}}},
    };
    for (auto& plan : plans) {
        auto args = kernel::tracepoint_arg_count(t->btf_, plan.tracepoint);
        struct bpf_program* chosen = nullptr;
        for (auto& [min_args, prog] : plan.variants) {
            if (!chosen && args && *args >= min_args) chosen = prog;
        }
        for (auto& [min_args, prog] : plan.variants) bpf_program__set_autoload(prog, prog == chosen);
        Capability cap{fmt::format("{} ({})", plan.tracepoint, plan.signal), chosen != nullptr, ""};
        if (!args)
            cap.detail = "this kernel has no such tracepoint";
        else if (!chosen)
            cap.detail = fmt::format("unexpected signature ({} arguments)", *args);
        else
            cap.detail = bpf_program__name(chosen);
        if (!chosen && plan.required) {
            error = fmt::format("cannot trace: tracepoint {}: {}", plan.tracepoint, cap.detail);
            return nullptr;
        }
        t->capabilities_.push_back(std::move(cap));
    }
    // Reason names from this kernel's BTF, read now: the parsed BTF (~10 MB) is freed before
    // libbpf parses its own copy for the load, so both never sit in memory together.
    t->drop_reasons_ = kernel::enum_names(t->btf_, "skb_drop_reason", "SKB_DROP_REASON_");
    t->reset_reasons_ = kernel::enum_names(t->btf_, "sk_rst_reason", "SK_RST_REASON_");
    t->fallbacks_ = kernel::signal_fallbacks(t->btf_);
    t->capabilities_.push_back({"reset reasons (enum sk_rst_reason)", !t->reset_reasons_.empty(),
                                t->reset_reasons_.empty() ? "added in 6.10: a refusal is told by its drop (NO_SOCKET, or "
                                                            "its place and the RST sent) and the listeners instead"
                                                          : "enum sk_rst_reason"});
    btf__free(t->btf_);
    t->btf_ = nullptr;

    if (int err = synwhy_bpf__load(t->skel_); err) {
        std::string log = libbpf_log;
        while (!log.empty() && log.back() == '\n') log.pop_back();
        if (auto nl = log.rfind('\n'); nl != std::string::npos) log = log.substr(nl + 1);
        if (err == -EPERM || errno == EPERM)
            error = "cannot load BPF programs: permission denied (run as root, or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)";
        else
            error = fmt::format("cannot load BPF programs: {}{}{}", strerror(-err), log.empty() ? "" : ": ", log);
        return nullptr;
    }
    t->refresh_ipvlan_handler();
    // The watched namespace's addresses before anything is attached: with the map empty, no SYN
    // is taken for a forwarded one, but none should be counted as the host's for want of them
    // either. Followed from now on (rtnetlink), and at each snapshot.
    if (options.netns && options.read_addresses) {
        t->read_addresses_ = options.read_addresses;
        t->addr_events_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
        int socket_errno = errno;
        if (t->addr_events_fd_ >= 0) {
            struct sockaddr_nl sa {};
            sa.nl_family = AF_NETLINK;
            sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
            if (bind(t->addr_events_fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
                socket_errno = errno;
                close(t->addr_events_fd_);
                t->addr_events_fd_ = -1;
            }
        }
        std::string addr_error;
        t->set_watched_addresses(t->read_addresses_(addr_error));
        if (t->addr_events_fd_ < 0)
            t->capabilities_.push_back({"address changes (rtnetlink)", false,
                                        fmt::format("cannot follow them ({}): forwarded SYNs are told by the "
                                                    "addresses of the last snapshot",
                                                    strerror(socket_errno))});
    }
    if (int err = synwhy_bpf__attach(t->skel_); err) {
        error = fmt::format("cannot attach BPF programs: {}", strerror(-err));
        return nullptr;
    }
    t->ringbuf_ = ring_buffer__new(bpf_map__fd(t->skel_->maps.events), &Tracer::on_sample, t.get(), nullptr);
    if (!t->ringbuf_) {
        error = fmt::format("cannot open the BPF ring buffer: {}", strerror(errno));
        return nullptr;
    }
    return t;
}

Tracer::~Tracer() {
    if (addr_events_fd_ >= 0) close(addr_events_fd_);
    if (ringbuf_) ring_buffer__free(ringbuf_);
    if (skel_) synwhy_bpf__destroy(skel_);
    if (btf_) btf__free(btf_);
}

// A flood can refill the ring buffer as fast as it is read: one consume() takes at most this
// many records, so the caller's loop (signals, deadlines, output) always gets its turn.
constexpr uint32_t max_records_per_batch = 8192;
constexpr int batch_full = -E2BIG;  // returned by on_sample to make libbpf stop, not an error

int Tracer::on_sample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Tracer*>(ctx);
    if (self->handler_) (*self->handler_)(data, size);
    return ++self->batch_records_ >= max_records_per_batch ? batch_full : 0;
}

// Any address notification (or an overflow of them, ENOBUFS) makes the set be read again whole:
// simpler and exact, where applying each message would have to know which interfaces still hold
// an address removed from one.
void Tracer::refresh_addresses_if_changed() {
    if (addr_events_fd_ < 0) return;
    bool changed = false;
    char buf[8192];
    for (int i = 0; i < 64; i++) {  // bounded: a storm of changes is read again at the next call
        ssize_t n = recv(addr_events_fd_, buf, sizeof buf, 0);
        if (n > 0 || (n < 0 && errno == ENOBUFS)) {
            changed = true;
            continue;
        }
        break;
    }
    if (!changed) return;
    std::string error;
    set_watched_addresses(read_addresses_(error));
}

bool Tracer::poll(std::chrono::milliseconds timeout, const RawHandler& handler) {
    refresh_addresses_if_changed();
    handler_ = &handler;
    batch_records_ = 0;
    int n = ring_buffer__poll(ringbuf_, static_cast<int>(timeout.count()));
    handler_ = nullptr;
    return n >= 0 || n == -EINTR || n == batch_full;
}

int Tracer::ready_fd() const { return ring_buffer__epoll_fd(ringbuf_); }

bool Tracer::consume(const RawHandler& handler) {
    refresh_addresses_if_changed();
    handler_ = &handler;
    batch_records_ = 0;
    int n = ring_buffer__consume(ringbuf_);
    handler_ = nullptr;
    return n >= 0 || n == -EINTR || n == batch_full;
}

namespace {

// Calls fn(key) for each key of a hash map, at most `limit` times (maps are bounded anyway).
template <class Key, class Fn>
void for_each_key(int fd, size_t limit, Fn fn) {
    Key key{}, next{};
    const void* prev = nullptr;
    for (size_t n = 0; n < limit && bpf_map_get_next_key(fd, prev, &next) == 0; n++) {
        fn(next);
        key = next;
        prev = &key;
    }
}

// The sum over CPUs of a per-CPU u64 value; false when the key is not there.
bool sum_per_cpu(int fd, const void* key, uint64_t& total) {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return false;
    std::vector<uint64_t> values(ncpu);
    if (bpf_map_lookup_elem(fd, key, values.data()) != 0) return false;
    total = 0;
    for (uint64_t v : values) total += v;
    return true;
}

}  // namespace

std::vector<OtherPortSyns> Tracer::other_port_syns() const {
    std::vector<OtherPortSyns> out;
    int fd = bpf_map__fd(skel_->maps.other_port_syns);
    for_each_key<synwhy_other_port_key>(fd, 4096, [&](const synwhy_other_port_key& k) {
        uint64_t count = 0;
        if (bpf_map_lookup_elem(fd, &k, &count) != 0) return;
        OtherPortSyns o;
        o.netns = k.netns;
        o.family = k.family;
        std::memcpy(o.saddr, k.saddr, 16);
        std::memcpy(o.daddr, k.daddr, 16);
        o.dport = k.dport;
        o.count = count;
        out.push_back(o);
    });
    return out;
}

void Tracer::watch_process(uint32_t pid) {
    uint8_t one = 1;
    bpf_map_update_elem(bpf_map__fd(skel_->maps.listener_pids), &pid, &one, BPF_ANY);
}

namespace {
synwhy_addr_key addr_key(const IpAddr& a) {
    synwhy_addr_key key{};
    key.family = a.family == Family::ipv4 ? AF_INET : AF_INET6;
    std::memcpy(key.addr, a.bytes.data(), a.family == Family::ipv4 ? 4 : 16);
    return key;
}
}  // namespace

namespace {
// The address of a kernel text symbol (a module's too), streamed from /proc/kallsyms; 0 when it is
// not there or the addresses are hidden (no CAP_SYSLOG, kptr_restrict).
uint64_t kernel_text_symbol(const char* wanted) {
    FILE* f = fopen("/proc/kallsyms", "re");
    if (!f) return 0;
    char line[512];
    const size_t wanted_len = strlen(wanted);
    uint64_t found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char* end = nullptr;
        uint64_t a = std::strtoull(line, &end, 16);
        if (!end || end[0] != ' ' || (end[1] != 'T' && end[1] != 't') || end[2] != ' ') continue;
        const char* name = end + 3;
        if (std::strncmp(name, wanted, wanted_len) == 0 && std::strchr(" \t\n", name[wanted_len]) && name[wanted_len])
            found = a;
    }
    fclose(f);
    return found;
}
}  // namespace

// ipvlan lower devices are known by their rx_handler (see is_ipvlan_lower in the BPF side). Looked
// up while unknown: at start, and with each address set (each snapshot), in case the module
// loaded since. (A module unloaded and loaded again at another address while synwhy runs is not
// noticed: its SYNs are then not seen on the lower device.)
void Tracer::refresh_ipvlan_handler() {
    if (!watch_netns_ || !skel_->bss || skel_->bss->ipvlan_rx_handler) return;
    if (ipvlan_looked_up_ && access("/sys/module/ipvlan", F_OK) != 0) return;
    ipvlan_looked_up_ = true;
    skel_->bss->ipvlan_rx_handler = kernel_text_symbol("ipvlan_handle_frame");
}

void Tracer::set_watched_addresses(const std::vector<IpAddr>& addresses) {
    refresh_ipvlan_handler();
    int fd = bpf_map__fd(skel_->maps.watched_addrs);
    const synwhy_addr_key known{};  // the all-zero key: the set is known
    uint8_t one = 1;
    // No address read (an error): the kernel takes no SYN for a forwarded one until a set is.
    if (addresses.empty()) bpf_map_delete_elem(fd, &known);
    // The new ones first, then the stale ones out: an address kept is never missing meanwhile.
    std::vector<synwhy_addr_key> keep;
    bool full = false;
    for (const IpAddr& a : addresses) {
        keep.push_back(addr_key(a));
        if (bpf_map_update_elem(fd, &keep.back(), &one, BPF_ANY) != 0) full = true;
    }
    // A set the map could not hold whole (more than 1023 addresses) is not known: SYNs to the ones
    // left out would be taken for forwarded ones.
    addresses_known_ = !addresses.empty() && !full && bpf_map_update_elem(fd, &known, &one, BPF_ANY) == 0;
    if (addresses_known_)
        keep.push_back(known);
    else
        bpf_map_delete_elem(fd, &known);
    std::vector<synwhy_addr_key> stale;
    synwhy_addr_key key{}, next{};
    for (int err = bpf_map_get_next_key(fd, nullptr, &next); err == 0; err = bpf_map_get_next_key(fd, &key, &next)) {
        key = next;
        bool kept = std::any_of(keep.begin(), keep.end(),
                                [&](const synwhy_addr_key& k) { return std::memcmp(&k, &key, sizeof key) == 0; });
        if (!kept) stale.push_back(key);
    }
    for (const auto& k : stale) bpf_map_delete_elem(fd, &k);
}

TracerStats Tracer::stats() const {
    TracerStats s;
    int fd = bpf_map__fd(skel_->maps.stats);
    auto sum = [fd](uint32_t key) {
        uint64_t total = 0;
        sum_per_cpu(fd, &key, total);
        return total;
    };
    s.ringbuf_full = sum(SYNWHY_STAT_RINGBUF_FULL);
    s.syns_seen = sum(SYNWHY_STAT_SYN_RX);
    s.rate_limited = sum(SYNWHY_STAT_RATE_LIMITED);
    // A SYN counted as passing through at its arrival may turn out, after a DNAT, to be the
    // namespace's own: counted SYN_RX then, and taken out of the forwarded ones here. Read after
    // the forwarded total, so that a SYN promoted in between is not taken out before it is in.
    s.syns_forwarded = sum(SYNWHY_STAT_SYN_FORWARDED);
    const uint64_t dnat_here = sum(SYNWHY_STAT_SYN_DNAT_HERE);
    s.syns_forwarded -= std::min(s.syns_forwarded, dnat_here);
    return s;
}

std::vector<KernelCount> Tracer::kernel_counts() const {
    std::vector<KernelCount> out;
    int fd = bpf_map__fd(skel_->maps.counts);
    for_each_key<synwhy_count_key>(fd, 4096, [&](const synwhy_count_key& k) {
        KernelCount c{k.netns, k.port, k.kind, k.what, k.reason, 0};
        if (sum_per_cpu(fd, &k, c.count)) out.push_back(c);
    });
    return out;
}

}  // namespace synwhy
