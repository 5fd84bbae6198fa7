// Command-line options of synwhy and their validation (pure, unit-tested).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synwhy::cli {

enum class Mode { watch, report, doctor, probe };

// `synwhy probe [user@]HOST[:PORT]`: the client's side (runs without root).
struct ProbeOptions {
    std::string user, host;                        // from [user@]HOST[:PORT]
    std::optional<uint16_t> port;                  // -p PORT or HOST:PORT
    std::chrono::milliseconds timeout{5000};       // per address
    std::vector<uint16_t> also_ports;              // empty: 443 and 80
    std::string ssh_config;                        // -F FILE, passed to ssh -G
    int family = 0;                                // -4 / -6
};

inline constexpr size_t max_also_ports = 4;

// "[user@]HOST[:PORT]", "[2001:db8::1]:2222", "2001:db8::1" (no port: more than one ':') -> parts;
// nullopt when HOST is empty or PORT is not 1-65535.
struct ProbeTarget {
    std::string user, host;
    std::optional<uint16_t> port;
};
std::optional<ProbeTarget> parse_probe_target(const std::string& text);

struct CaptureOptions {
    Mode mode = Mode::report;
    std::vector<uint16_t> ports{22};
    std::string netns;          // name under /run/netns or a path; "" = the caller's netns
    bool all_netns = false;
    bool json = false;
    bool passive = false;       // no nft trace table: firewall attribution at table level only
    bool no_bpf = false;        // packet-socket capture, no BPF (also the fallback when BPF cannot load)
    std::chrono::milliseconds duration{30000};  // report: how long to capture at most
    uint64_t count = 0;                          // report: stop after this many SYNs (0 = no limit)
    std::chrono::milliseconds settle{1000};      // report: time left to the last SYNs' fates
    std::string ready_file;                      // written once the programs are attached
    std::string hostname;                        // report: the name clients use, checked against this host
    std::string pcap_file;                       // write the SYNs and the answers sent for them (pcap)
    std::string metrics_file;                    // watch: Prometheus textfile, replaced atomically
    ProbeOptions probe;                          // probe: its own options (json is shared)
    bool verbose = false;        // -v: what synwhy does (ports, namespace, capabilities) on stderr
    bool journal = false;        // watch --journal: one structured journal entry per flow
};

// "30", "30s", "500ms", "2m", "1h" -> milliseconds; nullopt for anything else (negative, empty,
// "1y", or more than max_duration).
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);
inline constexpr std::chrono::hours max_duration{24 * 7};

// A decimal whole number in [min, max] ("22", not "+22", " 22", "0x16" or "2e3"); nullopt otherwise.
std::optional<uint64_t> parse_whole_number(const std::string& text, uint64_t min, uint64_t max);
inline constexpr uint64_t max_count = 100000000;  // report --count: beyond it, use --duration

// Exit statuses (documented in the README and synwhy(8)).
inline constexpr int exit_ok = 0;          // report produced, every SYN accepted (watch: clean stop)
inline constexpr int exit_failure_found = 1;  // report produced with a failure cause
inline constexpr int exit_usage = 2;       // bad usage
inline constexpr int exit_cannot_trace = 3;  // privileges, BTF, kernel

// `synwhy probe`: what the network answers for HOST's SSH port, from where, and what to run next.
int run_probe(const CaptureOptions& options);

// `synwhy doctor`: what this kernel and these privileges give synwhy, for bug reports.
int run_doctor(const CaptureOptions& options);

// Parses argv; on error prints one line to stderr and returns the exit status to use.
// On success returns nullopt and fills options (help/version print and return exit_ok).
std::optional<int> parse_command_line(int argc, char** argv, CaptureOptions& options);

}  // namespace synwhy::cli
