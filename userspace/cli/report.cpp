// `synwhy report`: capture for a while (or N SYNs), then the causes, ranked, with evidence and fix.
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "cli/session.h"
#include "diagnosis/diagnose.h"

namespace synwhy::cli {

namespace {

constexpr uint64_t ms = 1000000ULL;
// Connection attempts (client ends) whose events are kept for the diagnosis: a flood beyond this
// is a sample, still counted exactly in the kernel, and the report says how many events it did
// not keep. Memory stays a few MB whatever the flood.
constexpr size_t max_report_flows = 2048;
constexpr size_t max_report_events = 4 * max_report_flows;

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

// The live status line of a report on a terminal: time left, SYNs so far, the leading cause.
// Written to stderr and erased before the report prints; absent on a non-TTY and with --json.
class Progress {
public:
    explicit Progress(bool enabled) : enabled_(enabled) {}
    bool enabled() const { return enabled_; }
    void show(uint64_t left_ns, uint64_t syns, const std::string& leading) {
        if (!enabled_) return;
        std::string line = fmt::format("synwhy: {:.0f}s left, {} SYN{} so far{}", double(left_ns) / 1e9, syns,
                                       syns == 1 ? "" : "s", leading.empty() ? "" : ", leading cause: " + leading);
        std::cerr << "\r\033[K" << line << std::flush;
        shown_ = true;
    }
    void clear() {
        if (shown_) std::cerr << "\r\033[K" << std::flush;
        shown_ = false;
    }

private:
    bool enabled_;
    bool shown_ = false;
};

// Whether a SYN came to the watched namespace itself: --count counts only those, never SYNs it
// forwards to other hosts (containers, VMs, a router's clients), which are not judged. When the
// kernel knows the namespace's addresses (one watched namespace) it sent up only those, by the
// addresses it follows as they change (a start-up snapshot would miss one added since); else
// (--all-netns) the snapshots tell.
bool syn_for_this_host(const Event& e, const std::vector<HostSnapshot>& hosts, bool kernel_told) {
    return kernel_told || address_of_host(e.dst, host_for(hosts, e.netns));
}

}  // namespace

int run_report(Session& s) {
    const CaptureOptions& o = s.options;
    std::vector<Event> all;
    uint64_t syns = 0, not_kept = 0;
    const uint64_t start = s.started_ns();
    uint64_t deadline = start + uint64_t(o.duration.count()) * ms;
    bool counting_done = false;
    Progress progress(!o.json && isatty(STDERR_FILENO));
    std::string leading;
    uint64_t last_progress = 0, last_leading = 0;
    std::vector<Event> batch;
    std::set<std::pair<IpAddr, uint16_t>> clients;  // the attempts being kept, by client end
    auto keep = [&](std::vector<Event>& events) {
        for (auto& e : events) {
            if (e.kind == EventKind::syn_rx && !e.sent_on && syn_for_this_host(e, s.ctx.hosts, s.kernel_tells_forwarded()))
                syns++;
            bool about_a_flow = e.kind != EventKind::listen_change && e.kind != EventKind::process_exit;
            bool known = !about_a_flow || clients.count({e.src, e.sport});
            if (!known && clients.size() < max_report_flows) {
                clients.insert({e.src, e.sport});
                known = true;
            }
            if (known && all.size() < max_report_events) all.push_back(std::move(e));
            else not_kept++;
        }
        events.clear();
    };
    while (!stop_requested()) {
        uint64_t now = Session::monotonic_ns();
        if (now >= deadline) break;
        if (!s.collect(std::chrono::milliseconds(std::min<uint64_t>(100, (deadline - now) / ms + 1)), batch)) break;
        keep(batch);
        if (o.count && !counting_done && syns >= o.count) {
            counting_done = true;
            deadline = std::min<uint64_t>(deadline, Session::monotonic_ns() + uint64_t(o.settle.count()) * ms);
        }
        now = Session::monotonic_ns();
        // The leading cause for the status line: a diagnosis of what came so far, once a second,
        // on a terminal only, and not over a flood's worth of events.
        if (progress.enabled() && now - last_leading > 1000 * ms && all.size() < 20000 && syns > 0) {
            DiagnosisInput probe{o.ports, all, s.ctx.hosts, now - start, {}, {}, {}, {}};
            Diagnosis d = diagnose(probe);
            leading = d.causes.empty() ? "" : d.causes.front().code;
            last_leading = now;
        }
        if (now - last_progress > 250 * ms) {
            progress.show(deadline > now ? deadline - now : 0, syns, leading);
            last_progress = now;
        }
    }
    // What is still in the ring buffer belongs to the capture too.
    s.collect(std::chrono::milliseconds(0), batch);
    keep(batch);
    progress.clear();

    ReportContext& ctx = s.ctx;
    std::vector<HostSnapshot> at_start = ctx.hosts;
    std::set<uint32_t> event_netns;
    for (const auto& e : all) event_netns.insert(e.netns);
    ctx.hosts = s.take_snapshots(event_netns);
    // What grew during the capture: listen-queue overflows prove SYNs were silently dropped.
    for (auto& h : ctx.hosts)
        for (const auto& a : at_start)
            if (a.netns == h.netns && h.listen_overflows >= a.listen_overflows && h.listen_drops >= a.listen_drops) {
                h.listen_overflows_grew = int64_t(h.listen_overflows - a.listen_overflows);
                h.listen_drops_grew = int64_t(h.listen_drops - a.listen_drops);
            }
    TracerStats stats = s.stats();
    ctx.syns_counted = stats.syns_seen;
    ctx.syns_forwarded_kernel = stats.syns_forwarded;
    ctx.events_lost = stats.ringbuf_full;
    ctx.events_not_kept = not_kept;
    ctx.rate_limited = stats.rate_limited;
    ctx.kernel_totals = s.kernel_totals();
    ctx.capture_seconds = double(Session::monotonic_ns() - start) / 1e9;
    if (uint64_t lost = s.nft_lost())
        ctx.missing_signals.push_back(fmt::format("{} nft trace messages lost (socket buffer full)", lost));
    auto other_ports = s.other_port_syns();
    firewall::LegacyReadings legacy = s.legacy_readings_since_last();
    s.detach();  // before printing: nothing of synwhy stays in the kernel past this point

    // Listeners from before the SYNs too: ssh.socket, after sshd failed to start for it, stops listening.
    DiagnosisInput input{o.ports, std::move(all), ctx.hosts, Session::monotonic_ns() - start,
                         std::move(legacy), std::move(other_ports), {}, at_start};
    if (!o.hostname.empty()) input.hostname = resolve(o.hostname);
    Diagnosis d = diagnose(input);
    // A refusal with no listener here: a container may have the port. Look, then decide again.
    bool refused = std::any_of(d.flows.begin(), d.flows.end(), [](const Flow& f) { return f.verdict == cause::no_listener; });
    if (refused && !o.all_netns && !ctx.hosts.empty()) {
        s.find_foreign_listeners();
        input.hosts = ctx.hosts;
        d = diagnose(input);
    }
    // Refused behind a DNAT: what the target's namespace is and what listens there names the fix.
    if (std::any_of(d.flows.begin(), d.flows.end(), [](const Flow& f) { return f.verdict == cause::dnat_refused; })) {
        s.look_into_dnat_targets(d.flows);
        input.hosts = ctx.hosts;
        d = diagnose(input);
    }
    if (o.json) {
        std::cout << json_text(report_json(d, ctx), 2) << std::endl;
    } else {
        TextStyle style;
        style.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        std::cout << report_text(d, ctx, style) << std::flush;
    }
    bool all_accepted = !d.causes.empty() &&
                        std::all_of(d.causes.begin(), d.causes.end(), [](const Cause& c) { return c.code == cause::accepted; });
    return all_accepted ? exit_ok : exit_failure_found;
}

}  // namespace synwhy::cli
