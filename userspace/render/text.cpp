#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <string_view>

#include <fmt/format.h>

#include "diagnosis/diagnose.h"
#include "diagnosis/interfaces.h"
#include "render/render.h"

namespace synwhy {

namespace {

// Programs whose names are lower case even at the start of a sentence ("ufw drops SYNs ...").
bool starts_with_program_name(std::string_view s) {
    static constexpr std::string_view names[] = {"ufw", "firewalld", "sshguard", "netavark", "tailscaled",
                                                 "kube-proxy", "sshd", "nftables", "iptables", "nc"};
    std::string_view first = s.substr(0, s.find_first_of(" :("));
    return std::find(std::begin(names), std::end(names), first) != std::end(names) ||
           first.find('.') != std::string_view::npos;  // a unit: ssh.socket
}

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when it is not one.
size_t utf8_sequence(const std::string& s, size_t i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; k++)
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < n; k++) cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    // Overlong forms, surrogates and beyond U+10FFFF are not UTF-8.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

// Display width of printable text (code points; wide characters are rare in what we print).
size_t columns(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

// Word-wraps `text` to `width`: the first line after `first`, the others after `rest`.
std::string wrap(const std::string& text, const std::string& first, const std::string& rest, size_t width) {
    std::string out = first, word;
    size_t col = columns(first);
    bool line_empty = true;
    auto flush_word = [&] {
        if (word.empty()) return;
        size_t w = columns(word);
        if (!line_empty && col + 1 + w > width) {
            out += "\n" + rest;
            col = columns(rest);
            line_empty = true;
        }
        if (!line_empty) {
            out += ' ';
            col++;
        }
        out += word;
        col += w;
        line_empty = false;
        word.clear();
    };
    for (char c : text) {
        if (c == ' ') flush_word();
        else word += c;
    }
    flush_word();
    return out + "\n";
}

std::string paint(const TextStyle& st, const char* code, const std::string& text) {
    if (!st.color) return text;
    // Each line on its own: a wrapped paragraph keeps its color, and no escape spans a newline.
    std::string out, line;
    for (size_t i = 0; i <= text.size(); i++) {
        if (i == text.size() || text[i] == '\n') {
            if (!line.empty()) out += fmt::format("\033[{}m{}\033[0m", code, line);
            if (i < text.size()) out += '\n';
            line.clear();
        } else {
            line += text[i];
        }
    }
    return out;
}

const char* color_of(const std::string& code) { return code == "accepted" ? "32" : "31"; }


}  // namespace

std::string printable(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = utf8_sequence(s, i);
        // C0 controls, DEL, the backslash itself, C1 controls (U+0080-U+009F, which terminals
        // take as CSI and friends), and bytes that are not UTF-8 are all shown as \xNN.
        bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
        if (n == 0 || c1 || (n == 1 && (c < 0x20 || c == 0x7f || c == '\\'))) {
            size_t bytes = n == 0 ? 1 : n;
            for (size_t k = 0; k < bytes; k++)
                out += c == '\\' ? std::string("\\\\") : fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i + k]));
            i += bytes;
            continue;
        }
        out.append(s, i, n);
        i += n;
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

std::string watch_line(const Flow& f, const std::string& netns_label, bool color) {
    TextStyle style;
    style.color = color;
    std::string verdict = paint(style, color_of(f.verdict), fmt::format("{:<20}", f.verdict));
    return fmt::format("{}  {}{:<22} -> {:<22} {} {}", format_time(f.first_ns),
                       netns_label.empty() ? "" : "[" + printable(netns_label) + "] ", endpoint(f.src, f.sport),
                       endpoint(f.dst, f.dport), verdict, printable(f.detail));
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

std::string verdict_line(const Diagnosis& d, const ReportContext& ctx) {
    if (d.causes.empty()) return "synwhy: nothing to report";
    std::string s = printable(d.causes.front().summary);
    // The service by its name when it is SSH's port.
    bool ssh = std::find(ctx.ports.begin(), ctx.ports.end(), 22) != ctx.ports.end();
    if (ssh && s.rfind("connections to ", 0) == 0) return "SSH " + s;
    if (!s.empty() && !starts_with_program_name(s)) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
}

std::string capture_line(const ReportContext& ctx) {
    if (ctx.capture == "bpf") return "";
    return printable(fmt::format("capture: {}{}", ctx.capture == "packet-socket" ? "packet socket" : ctx.capture,
                                 ctx.capture_note.empty() ? "" : " (" + ctx.capture_note + ")"));
}

std::string report_text(const Diagnosis& d, const ReportContext& ctx, const TextStyle& st) {
    std::string out;
    // Which capture saw the packets, first, when it is not the BPF tracer (it sees less).
    if (std::string line = capture_line(ctx); !line.empty()) out += line + "\n";
    const size_t w = st.width;
    std::string ports;
    for (size_t i = 0; i < ctx.ports.size(); i++) ports += (i ? "," : "") + std::to_string(ctx.ports[i]);
    const HostSnapshot* host = ctx.hosts.empty() ? nullptr : &ctx.hosts.front();

    std::string top_code = d.causes.empty() ? "" : d.causes.front().code;
    // The verdict is one line, whatever its length: the line people quote, grep and page on.
    out += paint(st, top_code == "accepted" ? "1;32" : "1;31", verdict_line(d, ctx)) + "\n";
    // The kernel's count is exact; the detail may be a sample of it (a flood).
    std::string counted = ctx.syns_counted > d.syns_seen + d.syns_forwarded
                              ? fmt::format("{} SYNs counted in the kernel, {} detailed,", ctx.syns_counted, d.syns_seen)
                              : fmt::format("{} SYN{}", d.syns_seen, d.syns_seen == 1 ? "" : "s");
    std::string seen = fmt::format("{} to port {} in {:.1f} s{}", counted,
                                   ports, ctx.capture_seconds,
                                   host && !host->netns_name.empty() ? fmt::format(", netns {}", printable(host->netns_name)) : "");
    if (uint64_t forwarded = ctx.syns_forwarded_kernel + d.syns_forwarded)
        seen += fmt::format("; {} more passed through to other hosts (not judged)", forwarded);
    out += wrap("(" + seen + ")", "", " ", w);

    for (size_t i = 0; i < d.causes.size(); i++) {
        const Cause& c = d.causes[i];
        out += "\n" + paint(st, color_of(c.code), fmt::format("{}. {}", i + 1, c.code)) +
               fmt::format(" ({} flow{})\n", c.flows, c.flows == 1 ? "" : "s");
        if (i > 0) out += wrap(printable(c.summary), "   ", "   ", w);
        for (const auto& e : c.evidence) out += wrap(printable(e), "   - ", "     ", w);
        // Commands are printed whole, to be copied: only the words before them are wrapped.
        for (const auto& f : c.fix) out += paint(st, "36", "   fix: ") + printable(f) + "\n";
    }
    if (!d.flows.empty()) {
        out += "\nflows:\n";
        // A flood's flows are summed up by the causes above: the table shows the first ones.
        constexpr size_t max_flow_lines = 50;
        size_t shown = 0;
        for (const auto& f : d.flows) {
            if (shown++ == max_flow_lines) {
                out += fmt::format("  ... and {} more flows (all of them in --json)\n", d.flows.size() - max_flow_lines);
                break;
            }
            out += fmt::format("  {}  {} -> {}  {} SYN  {}\n", format_time(f.first_ns), endpoint(f.src, f.sport),
                               endpoint(f.dst, f.dport), f.syns, paint(st, color_of(f.verdict), f.verdict));
            out += wrap(printable(f.detail), "      ", "      ", w);
            if (std::string via = describe_arrival(f); !via.empty())
                out += wrap("arrived on " + printable(via), "      ", "      ", w);
            if (f.nat_dst)
                out += wrap(fmt::format("DNAT to {}{}", endpoint(*f.nat_dst, f.nat_dport),
                                        f.nat_netns ? fmt::format(" (netns {})", f.nat_netns) : ""),
                            "      ", "      ", w);
        }
    }
    // When detail was lost (a flood), the kernel's exact totals say what the sample stands for.
    if (ctx.events_lost || ctx.rate_limited || ctx.events_not_kept) {
        out += "\n";
        if (ctx.events_lost)
            out += wrap(fmt::format("{} kernel events not detailed: ring buffer full", ctx.events_lost), "", "", w);
        if (ctx.rate_limited)
            out += wrap(fmt::format("{} kernel events not detailed: over the detail rate bound", ctx.rate_limited), "",
                        "", w);
        if (ctx.events_not_kept)
            out += wrap(fmt::format("{} events not kept for the diagnosis (memory bound of a report)",
                                    ctx.events_not_kept), "", "", w);
        out += "counted in the kernel (exact):\n";
        for (const auto& t : ctx.kernel_totals)
            out += fmt::format("  :{:<5} {:>10}  {}\n", t.port, t.count, printable(t.what));
    }
    for (const auto& m : ctx.missing_signals) out += wrap(printable(m), "note: ", "      ", w);
    if (!ctx.firewall_attribution.empty() && ctx.firewall_attribution != "nft trace")
        out += wrap(printable(ctx.firewall_attribution), "note: ", "      ", w);
    return out;
}

}  // namespace synwhy
