// Renderers: the diagnosis as text for a person and as JSON for tools (the JSON is a contract).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "diagnosis/model.h"

namespace synwhy {

struct ReportContext {
    std::vector<uint16_t> ports;
    std::vector<HostSnapshot> hosts;
    double capture_seconds = 0;
    uint64_t syns_counted = 0;      // by the kernel, including any not detailed
    // SYNs to watched ports that the kernel found the watched namespace only forwards (to an
    // address not its own; not in syns_counted). With --all-netns the kernel does not tell them:
    // Diagnosis::syns_forwarded has those it sent up, told apart by the snapshots' addresses.
    uint64_t syns_forwarded_kernel = 0;
    uint64_t events_lost = 0;       // ring buffer full
    uint64_t events_not_kept = 0;   // beyond the report's memory bound (a flood)
    uint64_t rate_limited = 0;      // held back in the kernel by the detail rate bound
    std::vector<KernelTotal> kernel_totals;  // exact, counted in the kernel
    std::vector<std::pair<std::string, bool>> capabilities;  // kernel signal -> available
    std::vector<std::string> missing_signals;                 // one line each
    std::string firewall_attribution;  // "nft trace", or why only the table level is known
    std::vector<std::string> capabilities_kept;  // after attaching (the rest were dropped)
    std::string privileges_note;                  // why they were not dropped, when not
    // How the packets were seen: "bpf" (the tracer), or "packet-socket" (--no-bpf, or BPF could
    // not load: then the text report's first line says so, and capture_note why).
    std::string capture = "bpf";
    std::string capture_note;
};

// The text report's first line when the capture was not BPF's, else "".
std::string capture_line(const ReportContext& ctx);

nlohmann::json flow_json(const Flow& flow);
nlohmann::json rule_json(const FirewallRule& rule);
nlohmann::json host_json(const HostSnapshot& host);
nlohmann::json report_json(const Diagnosis& d, const ReportContext& ctx);
// JSON as text: bytes that are not UTF-8 (a process name, a rule comment) are replaced, so a
// hostile name can never make the dump throw. indent -1: one line.
std::string json_text(const nlohmann::json& j, int indent = -1);

struct TextStyle {
    bool color = false;  // ANSI colors: on a TTY, and only without NO_COLOR
    size_t width = 80;   // prose is wrapped to this; the verdict line and commands are never broken
};

// The report for a person: the verdict line first, then evidence and fix per cause, then flows.
std::string report_text(const Diagnosis& d, const ReportContext& ctx, const TextStyle& style = {});
// The first line alone: "SSH connections to 192.0.2.2:22 are refused: nothing listens on port 22".
std::string verdict_line(const Diagnosis& d, const ReportContext& ctx);
std::string watch_line(const Flow& flow, const std::string& netns_label = "", bool color = false);  // one line, no newline

// A listener appearing or disappearing, with how its process ended when it did (watch).
std::string describe_exit(int wait_status);  // "killed by SIGSEGV (core dumped)", "exited with status 255"
std::string lifecycle_line(const Event& change, const Event* exit, const std::string& netns_label = "");
nlohmann::json lifecycle_json(const Event& change, const Event* exit);

// User-controlled text (process names, comments, hostnames) made safe for a terminal:
// control characters and escapes are shown as \xNN, so they can neither forge lines nor drive the TTY.
std::string printable(const std::string& s);
std::string format_time(uint64_t realtime_ns);  // "10:03:12.345"

}  // namespace synwhy
