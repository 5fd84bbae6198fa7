#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "diagnosis/diagnose.h"
#include "render/render.h"

namespace synwhy {

std::string printable(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f || c == '\\')
            out += c == '\\' ? std::string("\\\\") : fmt::format("\\x{:02x}", c);
        else
            out += static_cast<char>(c);
    }
    return out;
}

std::string format_time(uint64_t ns) {
    if (ns == 0) return "-";
    time_t secs = static_cast<time_t>(ns / 1000000000ULL);
    struct tm tm {};
    localtime_r(&secs, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}", buf, static_cast<int>((ns / 1000000ULL) % 1000));
}

std::string watch_line(const Flow& f, const std::string& netns_label) {
    return fmt::format("{}  {}{:<22} -> {:<22} {:<20} {}", format_time(f.first_ns),
                       netns_label.empty() ? "" : "[" + printable(netns_label) + "] ", endpoint(f.src, f.sport),
                       endpoint(f.dst, f.dport), f.verdict, printable(f.detail));
}

std::string describe_exit(int status) {
    int sig = status & 0x7f;
    if (sig) {
        const char* name = sigabbrev_np(sig);
        return fmt::format("killed by {}{}", name ? "SIG" + std::string(name) : "signal " + std::to_string(sig),
                           (status & 0x80) ? " (core dumped)" : "");
    }
    return fmt::format("exited with status {}", (status >> 8) & 0xff);
}

std::string lifecycle_line(const Event& change, const Event* exit, const std::string& netns_label) {
    bool started = change.new_state == 10;  // TCP_LISTEN
    std::string who = fmt::format("{} (pid {})", change.comm.empty() ? "?" : printable(change.comm), change.pid);
    std::string line = fmt::format("{}  {}{} {} {}", format_time(change.ts_ns),
                                   netns_label.empty() ? "" : "[" + printable(netns_label) + "] ", who,
                                   started ? "listening on" : "stopped listening on", endpoint(change.dst, change.dport));
    if (!started && exit) line += " — " + describe_exit(exit->exit_code);
    return line;
}

nlohmann::json lifecycle_json(const Event& change, const Event* exit) {
    bool started = change.new_state == 10;
    nlohmann::json j = {{"event", started ? "listen-start" : "listen-stop"},
                        {"ts", format_time(change.ts_ns)},
                        {"netns", change.netns},
                        {"pid", change.pid},
                        {"comm", change.comm},
                        {"addr", change.dst.str()},
                        {"port", change.dport},
                        {"family", change.dst.family == Family::ipv4 ? "ipv4" : "ipv6"}};
    if (!started && exit) {
        j["exit"] = describe_exit(exit->exit_code);
        j["exit_status"] = exit->exit_code;
    }
    return j;
}

std::string report_text(const Diagnosis& d, const ReportContext& ctx) {
    std::string out;
    std::string ports;
    for (size_t i = 0; i < ctx.ports.size(); i++) ports += (i ? "," : "") + std::to_string(ctx.ports[i]);
    const HostSnapshot* host = ctx.hosts.empty() ? nullptr : &ctx.hosts.front();
    out += fmt::format("synwhy: {} SYN{} to port {} in {:.1f} s{}\n", d.syns_seen, d.syns_seen == 1 ? "" : "s", ports,
                       ctx.capture_seconds,
                       host && !host->netns_name.empty() ? fmt::format(" (netns {})", printable(host->netns_name)) : "");
    if (!d.causes.empty()) out += "\n" + printable(d.causes.front().summary) + "\n";
    for (size_t i = 0; i < d.causes.size(); i++) {
        const Cause& c = d.causes[i];
        out += fmt::format("\n{}. {} ({} flow{})\n", i + 1, c.code, c.flows, c.flows == 1 ? "" : "s");
        if (i > 0) out += "   " + printable(c.summary) + "\n";
        for (const auto& e : c.evidence) out += "   - " + printable(e) + "\n";
        for (const auto& f : c.fix) out += "   fix: " + printable(f) + "\n";
    }
    if (!d.flows.empty()) {
        out += "\nflows:\n";
        for (const auto& f : d.flows)
            out += fmt::format("  {}  {:<22} -> {:<22} {:>3} SYN  {:<20} {}\n", format_time(f.first_ns),
                               endpoint(f.src, f.sport), endpoint(f.dst, f.dport), f.syns, f.verdict, printable(f.detail));
    }
    if (ctx.events_lost) out += fmt::format("\n{} kernel events not detailed: ring buffer full\n", ctx.events_lost);
    for (const auto& m : ctx.missing_signals) out += "note: " + m + "\n";
    if (!ctx.firewall_attribution.empty() && ctx.firewall_attribution != "nft trace")
        out += "note: " + ctx.firewall_attribution + "\n";
    return out;
}

}  // namespace synwhy
