#include "cli/capture.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <iostream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>

#include "diagnosis/diagnose.h"
#include "firewall/iptables_legacy.h"
#include "firewall/nft_trace.h"
#include "host/snapshot.h"
#include "kernel/kallsyms.h"
#include "render/render.h"
#include "tracer/decode.h"
#include "tracer/tracer.h"

namespace synwhy::cli {

namespace {

std::atomic<int> stop_signal{0};

void on_stop_signal(int sig) { stop_signal = sig; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;  // no SA_RESTART: poll() returns EINTR at once
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

bool has_capability(int cap) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return false;
    return data[cap / 32].effective & (1U << (cap % 32));
}

// What synwhy needs to trace: BPF and perfmon (or SYS_ADMIN on older kernels), NET_ADMIN for netns.
std::string missing_privileges() {
    constexpr int cap_bpf = 39, cap_perfmon = 38, cap_sys_admin = 21, cap_net_admin = 12;
    if (has_capability(cap_sys_admin)) return "";
    std::vector<std::string> missing;
    if (!has_capability(cap_bpf)) missing.push_back("CAP_BPF");
    if (!has_capability(cap_perfmon)) missing.push_back("CAP_PERFMON");
    if (!has_capability(cap_net_admin)) missing.push_back("CAP_NET_ADMIN");
    if (missing.empty()) return "";
    std::string s;
    for (size_t i = 0; i < missing.size(); i++) s += (i ? ", " : "") + missing[i];
    return s;
}

// Flows `watch` keeps to join late events (a SYN-ACK retransmit, the nft trace) to their SYN.
constexpr size_t max_watch_flows = 65536;

// Entering namespaces costs a thread and a sock_diag dump each: bounded.
constexpr size_t max_foreign_namespaces = 512;

uint32_t netns_inode(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

int64_t realtime_minus_monotonic() {
    struct timespec rt {}, mono {};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(rt.tv_sec) - mono.tv_sec) * 1000000000LL + (int64_t(rt.tv_nsec) - mono.tv_nsec);
}

uint64_t now_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

// A named or given namespace: the path of its file.
std::string netns_path(const std::string& netns) {
    return netns.find('/') != std::string::npos ? netns : "/run/netns/" + netns;
}

// Snapshot of another namespace, from a thread that enters it (setns is per thread for netns).
HostSnapshot snapshot_of(const std::string& path, const std::string& name) {
    HostSnapshot snap;
    std::thread t([&] {
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            snap.netns = netns_inode(path);
            snap.probe_errors.push_back(fmt::format("cannot enter netns {}: {}", path, strerror(errno)));
        } else {
            snap = host::take_snapshot({});
        }
        if (fd >= 0) close(fd);
    });
    t.join();
    snap.netns_name = name;
    return snap;
}

struct Watched {
    std::string path;
    std::string name;
};

// Every namespace with a name in /run/netns, plus synwhy's own, each once.
std::vector<Watched> all_namespaces() {
    std::vector<Watched> out{{"/proc/self/ns/net", ""}};
    std::map<uint32_t, bool> seen{{netns_inode("/proc/self/ns/net"), true}};
    if (DIR* d = opendir("/run/netns")) {
        while (struct dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::string p = std::string("/run/netns/") + e->d_name;
            uint32_t ino = netns_inode(p);
            if (ino && seen.emplace(ino, true).second) out.push_back({p, e->d_name});
        }
        closedir(d);
    }
    return out;
}

// A and AAAA of the name clients use (the resolver's own timeouts bound it).
HostnameCheck resolve(const std::string& name) {
    HostnameCheck h;
    h.name = name;
    struct addrinfo hints {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        h.error = gai_strerror(rc);
        return h;
    }
    for (auto* ai = res; ai; ai = ai->ai_next) {
        IpAddr a;
        if (ai->ai_family == AF_INET) {
            a.family = Family::ipv4;
            std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
            a.family = Family::ipv6;
            std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        if (std::find(h.addresses.begin(), h.addresses.end(), a) == h.addresses.end()) h.addresses.push_back(a);
    }
    freeaddrinfo(res);
    return h;
}

void write_ready_file(const std::string& path) {
    if (path.empty()) return;
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    std::string line = fmt::format("attached {}\n", getpid());
    (void)!write(fd, line.data(), line.size());
    close(fd);
    rename(tmp.c_str(), path.c_str());
}

}  // namespace

int run_capture(const CaptureOptions& o) {
    if (std::string missing = missing_privileges(); !missing.empty()) {
        std::cerr << "synwhy: not enough privileges: run as root, or grant " << missing << "\n";
        return exit_cannot_trace;
    }
    std::string own_name;
    if (!o.netns.empty()) {
        std::string path = netns_path(o.netns);
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            std::cerr << "synwhy: no such network namespace: " << o.netns << " (" << path << ": " << strerror(errno) << ")\n";
            return exit_usage;
        }
        // Enter it before any thread or socket exists, as `ip netns exec` would.
        if (setns(fd, CLONE_NEWNET) != 0) {
            std::cerr << "synwhy: cannot enter network namespace " << o.netns << ": " << strerror(errno) << "\n";
            close(fd);
            return exit_cannot_trace;
        }
        close(fd);
        own_name = o.netns;
    }
    uint32_t own_netns = netns_inode("/proc/self/ns/net");

    install_signal_handlers();
    std::string error;
    auto tracer = Tracer::start({o.ports, o.all_netns ? 0u : own_netns}, error);
    if (!tracer) {
        std::cerr << "synwhy: " << error << "\n";
        return exit_cannot_trace;
    }

    KernelNames names;
    names.drop_reasons = kernel::enum_names(tracer->kernel_btf(), "skb_drop_reason", "SKB_DROP_REASON_");
    names.reset_reasons = kernel::enum_names(tracer->kernel_btf(), "sk_rst_reason", "SK_RST_REASON_");
    // kallsyms is large: read it the first time a drop needs a name.
    std::optional<kernel::Kallsyms> syms;
    names.symbolize = [&syms](uint64_t addr) {
        if (!syms) syms = kernel::Kallsyms::load();
        return syms->symbolize(addr);
    };

    ReportContext ctx;
    ctx.ports = o.ports;
    for (const auto& c : tracer->capabilities()) {
        ctx.capabilities.emplace_back(c.name, c.available);
        if (!c.available) ctx.missing_signals.push_back(fmt::format("this kernel lacks {}: {}", c.name, c.detail));
    }
    auto take_snapshots = [&] {
        std::vector<HostSnapshot> snaps;
        if (o.all_netns) {
            for (const auto& w : all_namespaces()) snaps.push_back(snapshot_of(w.path, w.name));
        } else {
            snaps.push_back(host::take_snapshot({}));
            snaps.back().netns_name = own_name;
        }
        return snaps;
    };
    ctx.hosts = take_snapshots();
    // The processes that own a listener already: their exit is reported too (watch lifecycle).
    for (const auto& h : ctx.hosts)
        for (const auto& l : h.listeners)
            if (l.pid && std::find(o.ports.begin(), o.ports.end(), l.port) != o.ports.end())
                tracer->watch_process(static_cast<uint32_t>(l.pid));

    PortSet ports(o.ports);
    // SYNWHY_DEBUG_EVENTS=1 prints every decoded kernel event to stderr (for developers).
    const bool debug_events = getenv("SYNWHY_DEBUG_EVENTS") != nullptr;
    int64_t clock_offset = realtime_minus_monotonic();
    std::vector<Event> events;
    auto handle_raw = [&](const void* data, size_t size) {
        Event e;
        if (!decode_event(data, size, ports, names, clock_offset, e)) return;
        if (debug_events)
            std::cerr << fmt::format("event kind={} netns={} {} -> {} flags={:#x} reason={} loc={} out={}\n",
                                     int(e.kind), e.netns, endpoint(e.src, e.sport), endpoint(e.dst, e.dport),
                                     e.tcp_flags, e.reason, e.location, e.outbound);
        events.push_back(std::move(e));
    };

    // Rule-level firewall attribution (nft trace) in the watched namespace.
    std::unique_ptr<firewall::NftTraceSession> nft;
    if (o.passive) {
        ctx.firewall_attribution = "--passive: firewall drops are named by backend (nftables / iptables-legacy), not by rule";
    } else if (o.all_netns) {
        ctx.firewall_attribution = "--all-netns: nft trace is not set up; firewall drops are named by backend only";
    } else {
        std::string nft_error;
        nft = firewall::NftTraceSession::start(o.ports, own_netns, nft_error);
        ctx.firewall_attribution = nft ? "nft trace" : nft_error + "; firewall drops are named by backend only";
    }

    // iptables-legacy: per-rule counters now, compared with later readings to name the rule.
    std::vector<firewall::LegacyRule> legacy_before;
    auto read_legacy = [&] {
        std::vector<firewall::LegacyRule> all;
        if (o.all_netns) return all;
        for (const char* family : {"ip", "ip6"}) {
            std::string err;
            auto rules = firewall::read_legacy_counters(family, std::chrono::milliseconds(3000), err);
            all.insert(all.end(), rules.begin(), rules.end());
        }
        return all;
    };
    auto legacy_attribution = [&](const std::vector<firewall::LegacyRule>& after) {
        std::vector<FirewallRule> rules;
        for (const char* family : {"ip", "ip6"}) {
            std::vector<firewall::LegacyRule> b, a;
            for (const auto& r : legacy_before)
                if (r.family == family) b.push_back(r);
            for (const auto& r : after)
                if (r.family == family) a.push_back(r);
            if (auto rule = firewall::attribute_legacy_drop(b, a, o.ports.front())) rules.push_back(*rule);
        }
        return rules;
    };
    legacy_before = read_legacy();

    // Waits up to `timeout` for kernel records or trace messages; appends what came to `events`.
    auto collect = [&](std::chrono::milliseconds timeout) {
        struct pollfd fds[2] = {{tracer->ready_fd(), POLLIN, 0}, {nft ? nft->fd() : -1, POLLIN, 0}};
        int n = ::poll(fds, nft ? 2 : 1, static_cast<int>(timeout.count()));
        if (n < 0 && errno != EINTR) return false;
        if (!tracer->consume(handle_raw)) return false;
        if (nft) nft->drain(events);
        return true;
    };

    write_ready_file(o.ready_file);
    if (!o.json)
        std::cerr << fmt::format("synwhy: watching TCP port{} {} {}\n", o.ports.size() > 1 ? "s" : "",
                                 [&] {
                                     std::string s;
                                     for (size_t i = 0; i < o.ports.size(); i++)
                                         s += (i ? "," : "") + std::to_string(o.ports[i]);
                                     return s;
                                 }(),
                                 o.all_netns ? "in every network namespace"
                                             : (own_name.empty() ? "in this network namespace" : "in netns " + own_name));

    const uint64_t start = now_ns();
    const auto poll_interval = std::chrono::milliseconds(100);

    if (o.mode == Mode::watch) {
        std::map<FlowKey, FlowEvidence> flows;
        std::map<FlowKey, uint32_t> printed;  // SYNs already given a line, per flow
        uint64_t last_snapshot = start;
        uint64_t last_foreign_scan = 0;
        std::map<uint32_t, Event> exits;  // pid -> its exit, for the listen-stop lines that follow
        auto print = [&](const FlowEvidence& f) {
            const HostSnapshot* host = nullptr;
            for (const auto& h : ctx.hosts)
                if (h.netns == f.key.netns) host = &h;
            if (!host && !ctx.hosts.empty()) host = &ctx.hosts.front();
            Flow flow = classify(f, host);
            if (flow.verdict == cause::no_listener && !o.all_netns && !ctx.hosts.empty() &&
                now_ns() - last_foreign_scan > 5000000000ULL) {
                std::string err;
                ctx.hosts.front().other_netns_listeners =
                    host::find_listeners_in_other_netns(o.ports, own_netns, max_foreign_namespaces, err);
                last_foreign_scan = now_ns();
                host = &ctx.hosts.front();
                flow = classify(f, host);
            }
            // With every namespace watched, each line says which one it is about.
            std::string label;
            if (o.all_netns)
                label = host && host->netns == f.key.netns && !host->netns_name.empty() ? host->netns_name
                                                                                         : fmt::format("netns:{}", f.key.netns);
            if (o.json) {
                auto j = flow_json(flow);
                if (o.all_netns) j["netns_name"] = label;
                std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
            } else {
                std::cout << watch_line(flow, label) << std::endl;
            }
            printed[f.key] = f.syns;
        };
        while (!stop_signal) {
            events.clear();
            if (!collect(poll_interval)) break;
            // Fold the whole batch first: a trace message naming the rule comes in the same
            // batch as the drop it explains, and the line should carry both.
            std::vector<FlowKey> decided;
            bool failure_seen = false;
            for (const Event& e : events) {
                if (e.kind == EventKind::process_exit) {
                    if (exits.size() > 1024) exits.clear();  // bounded: only recent exits matter
                    exits[e.pid] = e;
                    continue;
                }
                if (e.kind == EventKind::listen_change) {
                    last_snapshot = 0;  // the listeners changed: the next verdict takes a new snapshot
                    auto ex = exits.find(e.pid);
                    const Event* exit = ex != exits.end() ? &ex->second : nullptr;
                    std::string label = o.all_netns ? fmt::format("netns:{}", e.netns) : "";
                    if (o.json)
                        std::cout << lifecycle_json(e, exit).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
                    else
                        std::cout << lifecycle_line(e, exit, label) << std::endl;
                    continue;
                }
                FlowEvidence* flow = fold_event(flows, e);
                if (!flow) continue;
                bool decisive = e.kind == EventKind::established || e.kind == EventKind::drop ||
                                e.kind == EventKind::firewall_verdict || e.kind == EventKind::rst_sent ||
                                e.kind == EventKind::icmp_sent || e.kind == EventKind::tx_rst;
                if (decisive) {
                    decided.push_back(flow->key);
                    failure_seen |= e.kind != EventKind::established;
                }
            }
            if (failure_seen && now_ns() - last_snapshot > 1000000000ULL) {
                // The verdict needs the host as it is now (the other namespaces' listeners are
                // refreshed on their own schedule, below).
                auto foreign = ctx.hosts.empty() ? std::vector<ForeignListener>{} : ctx.hosts.front().other_netns_listeners;
                ctx.hosts = take_snapshots();
                if (!ctx.hosts.empty()) ctx.hosts.front().other_netns_listeners = std::move(foreign);
                last_snapshot = now_ns();
            }
            std::vector<FirewallRule> legacy_rules;
            bool legacy_read = false;
            for (const FlowKey& key : decided) {
                auto it = flows.find(key);
                if (it == flows.end() || it->second.syns <= printed[key]) continue;
                FlowEvidence& f = it->second;
                if (!legacy_before.empty() && f.inbound_drop && !f.inbound_rule && !legacy_read) {
                    auto now_rules = read_legacy();
                    legacy_rules = legacy_attribution(now_rules);
                    legacy_before = std::move(now_rules);
                    legacy_read = true;
                }
                attach_legacy_rule(f, legacy_rules, ctx.hosts.empty() ? nullptr : &ctx.hosts.front());
                print(f);
            }
            // SYNs with no fate after a while: say so, once.
            uint64_t now = now_ns();
            // Memory stays bounded: idle flows are forgotten after 2 minutes, and when a flood
            // crowds the table, every flow whose SYNs all have their line is forgotten at once.
            const bool crowded = flows.size() > max_watch_flows;
            for (auto it = flows.begin(); it != flows.end();) {
                FlowEvidence& f = it->second;
                if (f.syns > printed[f.key] && now - f.last_ns > 1500000000ULL) print(f);
                bool done = f.syns <= printed[f.key];
                if (now - f.last_ns > 120000000000ULL || (crowded && done)) {
                    printed.erase(it->first);
                    it = flows.erase(it);
                } else {
                    ++it;
                }
            }
        }
        return exit_ok;
    }

    // report
    std::vector<Event> all;
    uint64_t syns = 0;
    uint64_t deadline = start + uint64_t(o.duration.count()) * 1000000ULL;
    bool counting_done = false;
    while (!stop_signal && now_ns() < deadline) {
        events.clear();
        if (!collect(poll_interval)) break;
        for (auto& e : events) {
            if (e.kind == EventKind::syn_rx) syns++;
            all.push_back(std::move(e));
        }
        if (o.count && !counting_done && syns >= o.count) {
            counting_done = true;
            deadline = std::min<uint64_t>(deadline, now_ns() + uint64_t(o.settle.count()) * 1000000ULL);
        }
    }
    // What is still in the ring buffer belongs to the capture too.
    events.clear();
    collect(std::chrono::milliseconds(0));
    for (auto& e : events) all.push_back(std::move(e));

    std::vector<HostSnapshot> at_start = ctx.hosts;
    ctx.hosts = take_snapshots();
    // What grew during the capture: listen-queue overflows prove SYNs were silently dropped.
    for (auto& h : ctx.hosts)
        for (const auto& s : at_start)
            if (s.netns == h.netns && h.listen_overflows >= s.listen_overflows && h.listen_drops >= s.listen_drops) {
                h.listen_overflows_grew = int64_t(h.listen_overflows - s.listen_overflows);
                h.listen_drops_grew = int64_t(h.listen_drops - s.listen_drops);
            }
    TracerStats stats = tracer->stats();
    ctx.syns_counted = stats.syns_seen;
    ctx.events_lost = stats.ringbuf_full;
    ctx.capture_seconds = double(now_ns() - start) / 1e9;
    if (nft && nft->lost())
        ctx.missing_signals.push_back(fmt::format("{} nft trace messages lost (socket buffer full)", nft->lost()));
    auto tracer_other_ports = tracer->other_port_syns();
    nft.reset();     // the kernel removes the trace table with its owner socket
    tracer.reset();  // detach before printing: nothing of synwhy stays in the kernel past this point

    std::vector<OtherPortSyn> other_ports;
    for (const auto& x : tracer_other_ports) {
        OtherPortSyn s;
        s.netns = x.netns;
        s.src.family = x.family == AF_INET6 ? Family::ipv6 : Family::ipv4;
        std::memcpy(s.src.bytes.data(), x.saddr, s.src.family == Family::ipv4 ? 4 : 16);
        s.dport = x.dport;
        s.count = x.count;
        other_ports.push_back(s);
    }
    DiagnosisInput input{o.ports, std::move(all), ctx.hosts, now_ns() - start, {}, std::move(other_ports), {}};
    if (!o.hostname.empty()) input.hostname = resolve(o.hostname);
    if (!legacy_before.empty()) input.legacy_rules = legacy_attribution(read_legacy());
    Diagnosis d = diagnose(input);
    // A refusal with no listener here: a container may have the port. Look, then decide again.
    bool refused = std::any_of(d.flows.begin(), d.flows.end(), [](const Flow& f) { return f.verdict == cause::no_listener; });
    if (refused && !o.all_netns && !input.hosts.empty()) {
        std::string err;
        input.hosts.front().other_netns_listeners =
            host::find_listeners_in_other_netns(o.ports, own_netns, max_foreign_namespaces, err);
        if (!err.empty()) input.hosts.front().probe_errors.push_back(err);
        ctx.hosts = input.hosts;
        d = diagnose(input);
    }
    if (o.json)
        std::cout << report_json(d, ctx).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    else
        std::cout << report_text(d, ctx) << std::flush;
    bool all_accepted = !d.causes.empty() &&
                        std::all_of(d.causes.begin(), d.causes.end(), [](const Cause& c) { return c.code == cause::accepted; });
    return all_accepted ? exit_ok : exit_failure_found;
}

}  // namespace synwhy::cli
