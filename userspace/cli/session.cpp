#include "cli/session.h"
#include "cli/privileges.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include <net/if.h>
#include <sys/socket.h>

#include "diagnosis/diagnose.h"
#include "host/procfs.h"
#include "host/snapshot.h"
#include "kernel/btf_names.h"
#include "render/journal.h"
#include "render/metrics.h"

namespace synwhy::cli {

namespace {

std::atomic<int> stop_signal{0};

void on_stop_signal(int sig) { stop_signal = sig; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;  // no SA_RESTART: poll() returns EINTR at once
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    // A closed stdout (`watch | head`) is seen as a failed write and ends the capture cleanly.
    signal(SIGPIPE, SIG_IGN);
}

}  // namespace

namespace {

// What synwhy needs to trace with BPF: BPF and perfmon (or SYS_ADMIN on older kernels), NET_ADMIN for netns.
std::string missing_bpf_privileges() {
    if (has_capability(cap::sys_admin)) return "";
    std::vector<std::string> missing;
    for (int c : {cap::bpf, cap::perfmon, cap::net_admin})
        if (!has_capability(c)) missing.push_back(capability_name(c));
    std::string s;
    for (size_t i = 0; i < missing.size(); i++) s += (i ? ", " : "") + missing[i];
    return s;
}

// Entering namespaces costs a thread and a sock_diag dump each: bounded.
constexpr size_t max_foreign_namespaces = 512;

uint32_t netns_inode(const std::string& path) { return static_cast<uint32_t>(host::procfs::ns_inode(path)); }

int64_t realtime_minus_monotonic() {
    struct timespec rt {}, mono {};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(rt.tv_sec) - mono.tv_sec) * 1000000000LL + (int64_t(rt.tv_nsec) - mono.tv_nsec);
}

// A named or given namespace: the path of its file.
std::string netns_path(const std::string& netns) {
    return netns.find('/') != std::string::npos ? netns : "/run/netns/" + netns;
}

// Whose files a snapshot of a network namespace other than synwhy's reads: its processes' (a
// container's root), as SnapshotOptions::root and HostSnapshot::mount_view.
struct MountView {
    std::string root;         // "/proc/PID/root", "" for synwhy's own files
    std::string description;  // "the mount namespace of pid PID (COMM)"
    std::string note;         // a probe_errors line when no process of the namespace was found
};

// A process through which to see a network namespace's files.
struct NetnsProcess {
    int pid = 0;
    bool other_root = false;  // its / is not synwhy's (a container's, a chroot's)
    bool sshd = false;
};

bool root_differs_from_ours(int pid) {
    struct stat ours {}, theirs {};
    if (stat("/", &ours) != 0 || stat(fmt::format("/proc/{}/root", pid).c_str(), &theirs) != 0) return false;
    return ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino;
}

// One pass over /proc: per netns, a process whose root is not synwhy's (an sshd first, else the
// lowest pid: a container's init), or else any process in it. `ip netns exec` runs its programs in
// a mount namespace of its own with the same /: those show synwhy's own files.
std::map<uint32_t, NetnsProcess> processes_by_netns() {
    std::map<uint32_t, NetnsProcess> found;
    for (int pid : host::procfs::list_pids()) {
        uint32_t ino = netns_inode(fmt::format("/proc/{}/ns/net", pid));
        if (!ino) continue;
        auto& best = found[ino];
        if (best.sshd) continue;
        bool other_root = root_differs_from_ours(pid);
        if (!best.pid || (other_root && !best.other_root)) {
            best = {pid, other_root, false};
        } else if (other_root && host::procfs::read_comm(fmt::format("/proc/{}/comm", pid)) == "sshd") {
            best = {pid, true, true};  // a pod's namespaces hold several roots: sshd's is the one
        }
    }
    return found;
}

MountView mount_view_through(const NetnsProcess& process) {
    MountView view;
    if (!process.pid) {
        view.note = "no process runs in this network namespace: files and units were read from synwhy's own mount "
                    "namespace, not the namespace's";
    } else if (process.other_root) {
        view.root = fmt::format("/proc/{}/root", process.pid);
        view.description = fmt::format("the mount namespace of pid {} ({})", process.pid,
                                       host::procfs::read_comm(fmt::format("/proc/{}/comm", process.pid)));
    }
    return view;
}

// The view of netns `ino`, through `pid` when the namespace was given or found through it.
MountView mount_view_of(uint32_t ino, int pid, const std::function<const std::map<uint32_t, NetnsProcess>&()>& scan) {
    if (pid > 0 && netns_inode(fmt::format("/proc/{}/ns/net", pid)) == ino) {
        NetnsProcess p{pid, root_differs_from_ours(pid), false};
        if (p.other_root) return mount_view_through(p);
    }
    auto it = scan().find(ino);
    return mount_view_through(it == scan().end() ? NetnsProcess{} : it->second);
}

// "/proc/PID/ns/net" -> PID, else 0.
int pid_of_netns_path(const std::string& path) {
    int pid = 0;
    char tail = 0;
    if (std::sscanf(path.c_str(), "/proc/%d/ns/net%c", &pid, &tail) != 1) return 0;
    return pid > 0 ? pid : 0;
}

void apply_mount_view(HostSnapshot& snap, const MountView& view) {
    snap.mount_view = view.description;
    if (!view.note.empty()) snap.probe_errors.push_back(view.note);
}

// Snapshot of another namespace, from a thread that enters it (setns is per thread for netns).
HostSnapshot snapshot_of(const std::string& path, const std::string& name, const MountView& view) {
    HostSnapshot snap;
    std::thread t([&] {
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            snap.netns = netns_inode(path);
            snap.probe_errors.push_back(fmt::format("cannot enter netns {}: {}", path, strerror(errno)));
        } else {
            host::SnapshotOptions options;
            options.root = view.root;
            snap = host::take_snapshot(options);
        }
        if (fd >= 0) close(fd);
    });
    t.join();
    snap.netns_name = name;
    apply_mount_view(snap, view);
    return snap;
}

void write_ready_file(const std::string& path) {
    if (path.empty()) return;
    std::string error;
    replace_file_atomically(path, fmt::format("attached {}\n", getpid()), error);
}

}  // namespace

bool stop_requested() { return stop_signal != 0; }

uint64_t Session::monotonic_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

std::unique_ptr<Session> Session::open(const CaptureOptions& o, int& status) {
    // BPF when it can load, else (or with --no-bpf) a packet socket, which needs CAP_NET_RAW only.
    const std::string missing_bpf = o.no_bpf ? "" : missing_bpf_privileges();
    const bool packet_socket_allowed = has_capability(cap::net_raw);
    if (o.no_bpf && !packet_socket_allowed) {
        std::cerr << "synwhy: not enough privileges for --no-bpf: run as root, or grant CAP_NET_RAW (packet socket)\n";
        status = exit_cannot_trace;
        return nullptr;
    }
    if (!missing_bpf.empty() && (!packet_socket_allowed || o.all_netns)) {
        std::cerr << "synwhy: not enough privileges: run as root, or grant " << missing_bpf
                  << (o.all_netns ? "" : " (BPF), or CAP_NET_RAW (packet socket)") << "\n";
        status = exit_cannot_trace;
        return nullptr;
    }
    std::unique_ptr<Session> s(new Session(o));
    if (!o.netns.empty()) {
        std::string path = netns_path(o.netns);
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            std::cerr << "synwhy: no such network namespace: " << o.netns << " (" << path << ": " << strerror(errno) << ")\n";
            status = exit_usage;
            return nullptr;
        }
        // Enter it before any thread or socket exists, as `ip netns exec` would.
        if (setns(fd, CLONE_NEWNET) != 0) {
            std::cerr << "synwhy: cannot enter network namespace " << o.netns << ": " << strerror(errno) << "\n";
            close(fd);
            status = exit_cannot_trace;
            return nullptr;
        }
        close(fd);
        s->own_name = o.netns;
    }
    s->own_netns = netns_inode("/proc/self/ns/net");

    // Output paths are checked before anything is attached or written: a bad one costs nothing
    // and leaves nothing. The files themselves are made once the programs are attached.
    for (auto [flag, path] : {std::pair{"--ready-file", &o.ready_file}, {"--pcap", &o.pcap_file},
                              {"--metrics-file", &o.metrics_file}}) {
        std::string error;
        if (!path->empty() && !check_file_creatable(*path, error)) {
            std::cerr << "synwhy: " << flag << ": " << error << "\n";
            status = exit_usage;
            return nullptr;
        }
    }

    if (o.journal) {
        std::string why = journal_unavailable_reason();
        if (!why.empty()) {
            std::cerr << "synwhy: --journal: " << why << "\n";
            status = exit_usage;
            return nullptr;
        }
    }

    install_signal_handlers();
    std::string error;
    // Why BPF is not used, "" when it is.
    std::string no_bpf_why = o.no_bpf ? "--no-bpf" : "";
    if (!missing_bpf.empty()) no_bpf_why = "BPF cannot load: not enough privileges, no " + missing_bpf;
    if (no_bpf_why.empty()) {
        s->tracer_ = Tracer::start(
            {o.ports, o.all_netns ? 0u : s->own_netns, !o.pcap_file.empty(), host::list_local_addresses}, error);
        if (!s->tracer_ && o.all_netns) {  // a packet socket sees one namespace only
            std::cerr << "synwhy: " << error << "\n";
            status = exit_cannot_trace;
            return nullptr;
        }
        if (!s->tracer_) no_bpf_why = "BPF cannot load: " + error;
    }
    if (!s->tracer_) {
        // Opened here, after entering --netns: a packet socket sees its own namespace's devices.
        std::string packet_error;
        s->packets_ = capture::PacketCapture::open(o.ports, packet_error);
        if (!s->packets_) {
            std::cerr << "synwhy: cannot capture: " << (o.no_bpf ? "" : no_bpf_why + "; ") << packet_error << "\n";
            status = exit_cannot_trace;
            return nullptr;
        }
        s->frames_ = std::make_unique<capture::FrameDecoder>(o.ports, s->own_netns);
        s->ctx.capture = "packet-socket";
        s->ctx.capture_note = no_bpf_why;
        // Said once, on stderr, when synwhy chose it: what BPF lacks here and what stands in.
        if (!o.no_bpf)
            std::cerr << "synwhy: " << no_bpf_why << "; capturing with a packet socket instead (less detail: "
                      << "see --no-bpf in synwhy(8))\n";
    } else {
        s->names_.drop_reasons = s->tracer_->drop_reason_names();
        s->names_.reset_reasons = s->tracer_->reset_reason_names();
    }
    // kallsyms is large: each drop location is looked up once, by streaming it, and cached.
    Session* self = s.get();
    s->names_.symbolize = [self](uint64_t addr) {
        auto it = self->symbols_.find(addr);
        if (it != self->symbols_.end()) return it->second;
        if (self->symbols_.size() > 4096) self->symbols_.clear();  // bounded
        return self->symbols_[addr] = kernel::Kallsyms::symbolize_from_proc(addr);
    };
    s->ports_ = PortSet(o.ports);
    s->debug_events_ = getenv("SYNWHY_DEBUG_EVENTS") != nullptr;
    s->clock_offset_ = realtime_minus_monotonic();

    s->ctx.ports = o.ports;
    if (s->tracer_) {
        for (const auto& c : s->tracer_->capabilities()) {
            s->ctx.capabilities.emplace_back(c.name, c.available);
            if (!c.available) s->ctx.missing_signals.push_back(fmt::format("this kernel lacks {}: {}", c.name, c.detail));
        }
    } else {
        for (const char* seen : {"SYN arrived (packet socket)", "SYN-ACK, RST, ICMP error left (packet socket)",
                                 "handshake completed: the client's ACK (packet socket)"})
            s->ctx.capabilities.emplace_back(seen, true);
        for (const char* not_seen : {"kfree_skb reason", "tcp_send_reset", "sock state changes", "process exit"})
            s->ctx.capabilities.emplace_back(not_seen, false);
        for (const char* line : {
                 "packet-socket capture: the kernel's drops are not seen (no drop reason, no place): a drop outside "
                 "a firewall rule nft trace names (tc, XDP, conntrack, rp_filter, iptables-legacy) leaves the SYN "
                 "'unanswered'",
                 "packet-socket capture: a full accept queue is told by the listener's queue and TcpExt "
                 "ListenOverflows only, not per SYN",
                 "packet-socket capture: a RST is TCP's refusal by inference (no listener takes the SYN); IPv6 SYNs "
                 "with extension headers are not seen"})
            s->ctx.missing_signals.push_back(line);
    }
    s->ctx.hosts = s->take_snapshots();
    // The processes that own a listener already: their exit is reported too (watch lifecycle).
    for (const auto& h : s->ctx.hosts)
        for (const auto& l : h.listeners)
            if (s->tracer_ && l.pid && std::find(o.ports.begin(), o.ports.end(), l.port) != o.ports.end())
                s->tracer_->watch_process(static_cast<uint32_t>(l.pid));

    // Rule-level firewall attribution (nft trace) in the watched namespace.
    if (o.passive) {
        s->ctx.firewall_attribution = "--passive: firewall drops are named by backend (nftables / iptables-legacy), not by rule";
    } else if (o.all_netns) {
        s->ctx.firewall_attribution = "--all-netns: nft trace is not set up; firewall drops are named by backend only";
    } else {
        std::string nft_error;
        s->nft_ = firewall::NftTraceSession::start(o.ports, s->own_netns, nft_error, s->clock_offset_);
        s->ctx.firewall_attribution = s->nft_ ? "nft trace" : nft_error + "; firewall drops are named by backend only";
    }
    // iptables-legacy: per-rule counters now, compared with later readings to name the rule.
    s->legacy_before_ = s->read_legacy();

    if (!o.pcap_file.empty()) {
        std::string pcap_error;
        s->pcap = PcapWriter::create(o.pcap_file, pcap_error);
        if (!s->pcap) {
            std::cerr << "synwhy: " << pcap_error << "\n";
            status = exit_usage;
            return nullptr;
        }
    }
    if (!o.metrics_file.empty()) {
        WatchMetrics empty;
        empty.updated_unix_seconds = double(time(nullptr));
        std::string metrics_error;
        if (!replace_file_atomically(o.metrics_file, prometheus_text(empty), metrics_error)) {
            std::cerr << "synwhy: --metrics-file: " << metrics_error << "\n";
            status = exit_usage;
            return nullptr;
        }
    }

    // Everything that needed CAP_BPF and friends is done: keep only what later reads need.
    PrivilegeDrop drop;
    std::string drop_error;
    bool dropped = drop_capabilities(capabilities_kept_after_attach({s->legacy_present(), !o.metrics_file.empty()}), drop,
                                     drop_error);
    if (dropped) {
        s->ctx.capabilities_kept = drop.kept;
        if (!drop.bounding_set_dropped) s->ctx.privileges_note = "no CAP_SETPCAP: the bounding set was left as it was";
    } else {
        s->ctx.privileges_note = "capabilities not dropped: " + drop_error;
    }

    write_ready_file(o.ready_file);
    // What synwhy does, for -v only: stderr without it carries only what the user must act on
    // (the JSON has the same in `privileges`).
    if (o.verbose) {
        std::string ports;
        for (size_t i = 0; i < o.ports.size(); i++) ports += (i ? "," : "") + std::to_string(o.ports[i]);
        std::cerr << fmt::format("synwhy: watching TCP port{} {} {}\n", o.ports.size() > 1 ? "s" : "", ports,
                                 o.all_netns ? "in every network namespace"
                                             : (s->own_name.empty() ? "in this network namespace"
                                                                    : "in netns " + s->own_name));
        if (dropped) {
            std::string kept;
            for (const auto& c : s->ctx.capabilities_kept) kept += (kept.empty() ? "" : ", ") + c;
            std::cerr << "synwhy: capabilities kept: " << (kept.empty() ? "none" : kept) << "; the rest dropped\n";
        }
    }
    // Capabilities that could not be dropped are the user's to know, -v or not.
    if (!s->ctx.privileges_note.empty() && (o.verbose || !dropped))
        std::cerr << "synwhy: " << s->ctx.privileges_note << "\n";
    s->start_mono_ = monotonic_ns();
    return s;
}

Session::~Session() { detach(); }

void Session::detach() {
    nft_.reset();     // the kernel removes the trace table with its owner socket
    tracer_.reset();  // nothing of synwhy stays in the kernel past this point
    packets_.reset();
}

TracerStats Session::stats() const {
    if (tracer_) return tracer_->stats();
    TracerStats st;
    if (frames_) st.syns_seen = frames_->syns_seen();
    if (packets_) st.ringbuf_full = packets_->dropped();
    return st;
}

bool Session::read_packets(std::vector<Event>& batch) {
    // pcap stamps frames with CLOCK_REALTIME; events are on the monotonic clock plus the offset
    // fixed at start (a wall clock that jumps moves neither).
    const int64_t realtime_now_minus_mono = realtime_minus_monotonic();
    return packets_->read([&](const uint8_t* data, size_t caplen, uint64_t realtime_ns) {
        auto segment = capture::parse_frame(data, caplen, packets_->linktype());
        if (!segment) return;
        std::string ifname;
        if (auto it = ifnames_.find(segment->ifindex); it != ifnames_.end()) {
            ifname = it->second;
        } else if (segment->ifindex) {
            char buf[IF_NAMESIZE] = {};
            if (if_indextoname(segment->ifindex, buf)) ifname = buf;
            if (ifnames_.size() >= 1024) ifnames_.clear();  // bounded
            ifnames_[segment->ifindex] = ifname;
        }
        uint64_t ts = uint64_t(int64_t(realtime_ns) - realtime_now_minus_mono + clock_offset_);
        if (!pcap) segment->ip_packet.clear();  // the bytes are kept only for --pcap
        frames_->decode(*segment, ts, ifname, batch);
    });
}

bool Session::collect(std::chrono::milliseconds timeout, std::vector<Event>& batch) {
    if (!tracer_ && !packets_) return false;
    struct pollfd fds[2] = {{tracer_ ? tracer_->ready_fd() : packets_->fd(), POLLIN, 0}, {nft_ ? nft_->fd() : -1, POLLIN, 0}};
    int n = ::poll(fds, nft_ ? 2 : 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno != EINTR) return false;
    size_t first = batch.size();
    if (!tracer_) {
        if (!read_packets(batch)) return false;
        if (debug_events_)
            for (size_t i = first; i < batch.size(); i++)
                std::cerr << fmt::format("event kind={} netns={} {} -> {} flags={:#x} if={} out={}\n", int(batch[i].kind),
                                         batch[i].netns, endpoint(batch[i].src, batch[i].sport),
                                         endpoint(batch[i].dst, batch[i].dport), batch[i].tcp_flags, batch[i].ifname,
                                         batch[i].outbound);
    }
    bool ok = !tracer_ || tracer_->consume([&](const void* data, size_t size) {
        Event e;
        if (!decode_event(data, size, ports_, names_, clock_offset_, e)) return;
        if (debug_events_)
            std::cerr << fmt::format("event kind={} netns={} {} -> {} flags={:#x} reason={} loc={} out={}\n",
                                     int(e.kind), e.netns, endpoint(e.src, e.sport), endpoint(e.dst, e.dport),
                                     e.tcp_flags, e.reason, e.location, e.outbound);
        batch.push_back(std::move(e));
    });
    if (!ok) return false;
    if (nft_) nft_->drain(batch);
    if (pcap) {
        for (size_t i = first; i < batch.size(); i++) {
            pcap->write(batch[i]);
            batch[i].packet.clear();  // kept only as long as needed
            batch[i].packet.shrink_to_fit();
        }
        pcap->flush();
    }
    return true;
}

std::vector<HostSnapshot> Session::take_snapshots(const std::set<uint32_t>& also) {
    std::vector<HostSnapshot> snaps;
    // /proc is scanned for the namespaces' processes once, and only if a namespace needs it.
    std::optional<std::map<uint32_t, NetnsProcess>> by_netns;
    auto scan = [&]() -> const std::map<uint32_t, NetnsProcess>& {
        if (!by_netns) by_netns = processes_by_netns();
        return *by_netns;
    };
    if (!options.all_netns) {
        // --netns: synwhy entered it at start; its files are its processes' if they have their own.
        MountView view;
        if (!own_name.empty()) view = mount_view_of(own_netns, pid_of_netns_path(netns_path(own_name)), scan);
        host::SnapshotOptions snapshot_options;
        snapshot_options.root = view.root;
        snaps.push_back(host::take_snapshot(snapshot_options));
        snaps.back().netns_name = own_name;
        apply_mount_view(snaps.back(), view);
        // The kernel side tells this namespace's SYNs from those it forwards, and a macvlan
        // container's (seen on the lower device's namespace), by these addresses (also followed
        // through rtnetlink between snapshots).
        if (tracer_) tracer_->set_watched_addresses(snaps.back().addresses);
        return snaps;
    }
    // Synwhy's own namespace first, then every named one, then (bounded) the unnamed ones that
    // events came from (a container's), entered through a process inside.
    struct Watched {
        std::string path, name;
        uint32_t ino = 0;
        int pid = 0;
    };
    std::vector<Watched> watched{{"/proc/self/ns/net", "", 0, 0}};
    uint32_t self = netns_inode("/proc/self/ns/net");
    size_t unnamed = 0;
    for (const auto& [ino, ns] : host::list_network_namespaces(!also.empty())) {
        if (ino == self) continue;
        if (!ns.name.empty())
            watched.push_back({ns.path, ns.name, ino, 0});
        else if (also.count(ino) && unnamed++ < max_foreign_namespaces)
            watched.push_back({ns.path, fmt::format("netns:{} (pid {})", ino, ns.pid), ino, ns.pid});
    }
    for (const auto& w : watched)
        snaps.push_back(snapshot_of(w.path, w.name, w.ino ? mount_view_of(w.ino, w.pid, scan) : MountView{}));
    if (unnamed > max_foreign_namespaces)
        snaps.front().probe_errors.push_back(
            fmt::format("{} of {} unnamed network namespaces seen in events not snapshotted (at most {})",
                        unnamed - max_foreign_namespaces, unnamed, max_foreign_namespaces));
    return snaps;
}

void Session::find_foreign_listeners() {
    if (options.all_netns || ctx.hosts.empty()) return;
    std::string err;
    ctx.hosts.front().other_netns_listeners =
        host::find_listeners_in_other_netns(options.ports, own_netns, max_foreign_namespaces, err);
    if (!err.empty()) ctx.hosts.front().probe_errors.push_back(err);
}

void Session::look_into_dnat_targets(const std::vector<Flow>& flows) {
    for (const Flow& f : flows) {
        if (f.verdict != cause::dnat_refused || !f.nat_netns) continue;
        HostSnapshot* host = const_cast<HostSnapshot*>(host_for(ctx.hosts, f.netns));
        if (!host) continue;
        auto& known = host->dnat_targets;
        if (std::any_of(known.begin(), known.end(), [&](const NetnsView& v) { return v.netns == f.nat_netns; })) continue;
        if (auto view = host::look_into_netns(f.nat_netns)) known.push_back(std::move(*view));
    }
}

std::vector<firewall::LegacyRule> Session::read_legacy() const {
    std::vector<firewall::LegacyRule> all;
    if (options.all_netns) return all;
    for (const char* family : {"ip", "ip6"}) {
        std::string err;
        auto rules = firewall::read_legacy_counters(family, std::chrono::milliseconds(3000), err);
        all.insert(all.end(), rules.begin(), rules.end());
    }
    return all;
}

firewall::LegacyReadings Session::legacy_readings_since_last() {
    if (legacy_before_.empty()) return {};
    firewall::LegacyReadings readings{legacy_before_, read_legacy()};
    legacy_before_ = readings.after;
    return readings;
}

std::vector<OtherPortSyn> Session::other_port_syns() const {
    std::vector<OtherPortSyn> out;
    if (!tracer_) return out;
    for (const auto& x : tracer_->other_port_syns()) {
        OtherPortSyn s;
        s.netns = x.netns;
        s.src.family = x.family == AF_INET6 ? Family::ipv6 : Family::ipv4;
        std::memcpy(s.src.bytes.data(), x.saddr, s.src.family == Family::ipv4 ? 4 : 16);
        s.dst.family = s.src.family;
        std::memcpy(s.dst.bytes.data(), x.daddr, s.dst.family == Family::ipv4 ? 4 : 16);
        s.dport = x.dport;
        s.count = x.count;
        out.push_back(s);
    }
    return out;
}

}  // namespace synwhy::cli
