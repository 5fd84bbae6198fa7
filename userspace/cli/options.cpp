#include "cli/options.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace synwhy::cli {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
    size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) i++;
    if (i == 0 || i > 9) return std::nullopt;
    uint64_t n = std::stoull(text.substr(0, i));
    std::string unit = text.substr(i);
    uint64_t ms;
    if (unit.empty() || unit == "s") ms = n * 1000;
    else if (unit == "ms") ms = n;
    else if (unit == "m") ms = n * 60 * 1000;
    else if (unit == "h") ms = n * 3600 * 1000;
    else return std::nullopt;
    if (ms == 0 || std::chrono::milliseconds(ms) > max_duration) return std::nullopt;
    return std::chrono::milliseconds(ms);
}

std::optional<uint64_t> parse_whole_number(const std::string& text, uint64_t min, uint64_t max) {
    // Decimal digits only: no sign, no spaces, no 0x, no exponent; at most 19 digits (no overflow).
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    uint64_t n = std::stoull(text);
    if (n < min || n > max) return std::nullopt;
    return n;
}

namespace {

const char* examples_watch =
    "Examples:\n"
    "  synwhy watch                      # every SYN to :22 in this netns and its fate\n"
    "  synwhy watch --port 22 --port 2222 --json\n"
    "  ip netns exec srv synwhy watch    # or: synwhy watch --netns srv\n"
    "  synwhy watch --metrics-file /var/lib/prometheus/node-exporter/synwhy.prom\n";
const char* examples_report =
    "Examples:\n"
    "  synwhy report                     # capture 30 s, then say why SSH connections fail\n"
    "  synwhy report --count 1 --duration 60s\n"
    "  synwhy report --json | jq .causes[0]\n"
    "  synwhy report --count 1 || page-someone   # exit 1: a failure cause was found\n";

// The commands, one per line with what each does: for bare `synwhy` and an unknown command.
std::string command_list(CLI::App& app) {
    std::string out;
    for (const CLI::App* sub : app.get_subcommands({}))
        out += "  " + sub->get_name() + std::string(sub->get_name().size() < 8 ? 8 - sub->get_name().size() : 1, ' ') +
               sub->get_description() + "\n";
    return out;
}

// `synwhy` alone gets the short help (nothing to do: exit 2); a word that is no command gets one
// line naming it and the commands, not CLI11's "A subcommand is required".
std::optional<int> reject_missing_or_unknown_command(CLI::App& app, int argc, char** argv) {
    if (argc < 2) {
        std::cout << "Usage: synwhy COMMAND [OPTIONS]\n" << app.get_description() << "\n\nCommands:\n"
                  << command_list(app) << "\nsynwhy COMMAND --help for its options; man synwhy for the rest.\n";
        return exit_usage;
    }
    std::string word = argv[1];
    if (word == "-h" || word == "--help" || word == "--version") return std::nullopt;
    for (const CLI::App* sub : app.get_subcommands({}))
        if (sub->get_name() == word) return std::nullopt;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
    for (char& c : word)
        if (std::iscntrl(static_cast<unsigned char>(c))) c = '?';  // the terminal gets no escape sequence
    if (!word.empty() && word[0] == '-')
        std::cerr << "synwhy: '" << word << "' before a command: options go after one of " << names
                  << " (see synwhy --help)\n";
    else
        std::cerr << "synwhy: unknown command '" << word << "': the commands are " << names << " (see synwhy --help)\n";
    return exit_usage;
}

const char* examples_probe =
    "Examples:\n"
    "  synwhy probe server.example          # what answers ssh's port, from where, and what to run next\n"
    "  synwhy probe admin@server.example:2222 --json\n"
    "  synwhy probe -F ~/.ssh/work_config db1 --also-port 8443 --timeout 3s\n";

// probe's option values as typed, checked after parsing.
struct ProbeArgs {
    std::string target, port, timeout;
    std::vector<std::string> also_ports;
    bool ipv4 = false, ipv6 = false;
};

CLI::App* add_probe_subcommand(CLI::App& app, CaptureOptions& o, ProbeArgs& args) {
    CLI::App* probe = app.add_subcommand(
        "probe", "on the client: what the network answers for HOST's SSH port, from where, and what to run next");
    probe->footer(examples_probe);
    probe->add_option("target", args.target, "[user@]HOST[:PORT] as given to ssh")->required();
    probe->add_option("-p,--port", args.port, "the port to probe (default: ssh's, from ssh -G)");
    probe->add_option("--timeout", args.timeout, "how long to wait for an answer per address (default 5s)");
    probe->add_option("--also-port", args.also_ports,
                      "another port of the host to ask when ssh's does not answer (repeatable; default 443 and 80)");
    probe->add_option("-F,--ssh-config", o.probe.ssh_config, "the ssh config file (ssh -F FILE)");
    probe->add_flag("-4", args.ipv4, "IPv4 addresses only (ssh -4)");
    probe->add_flag("-6", args.ipv6, "IPv6 addresses only (ssh -6)");
    probe->add_flag("--json", o.json, "print one JSON object");
    return probe;
}

std::optional<int> usage_error(const std::string& message) {
    std::cerr << "synwhy: " << message << "\n";
    return exit_usage;
}

// Checks probe's values; nullopt when they are good.
std::optional<int> finish_probe(const ProbeArgs& args, ProbeOptions& p) {
    auto target = parse_probe_target(args.target);
    if (!target) return usage_error("probe: '" + args.target + "' is not [user@]HOST[:PORT]");
    p.user = target->user;
    p.host = target->host;
    p.port = target->port;
    if (!args.port.empty()) {
        auto port = parse_whole_number(args.port, 1, 65535);
        if (!port) return usage_error("--port: '" + args.port + "' is not a port number from 1 to 65535");
        if (p.port && *p.port != *port) return usage_error("probe: the port is given twice (HOST:PORT and --port)");
        p.port = uint16_t(*port);
    }
    if (!args.timeout.empty()) {
        auto d = parse_duration(args.timeout);
        if (!d || *d > std::chrono::minutes(2))
            return usage_error("--timeout: '" + args.timeout + "' is not a duration like 5s or 500ms (at most 2m)");
        p.timeout = *d;
    }
    for (const auto& text : args.also_ports) {
        auto port = parse_whole_number(text, 1, 65535);
        if (!port) return usage_error("--also-port: '" + text + "' is not a port number from 1 to 65535");
        if (std::find(p.also_ports.begin(), p.also_ports.end(), uint16_t(*port)) == p.also_ports.end())
            p.also_ports.push_back(uint16_t(*port));
    }
    // Never a port scan: a few ports the user names (one SYN each, per address).
    if (p.also_ports.size() > max_also_ports)
        return usage_error(fmt::format("--also-port: at most {} ports", max_also_ports));
    if (args.ipv4 && args.ipv6) return usage_error("probe: -4 and -6 exclude each other");
    p.family = args.ipv4 ? 4 : args.ipv6 ? 6 : 0;
    return std::nullopt;
}

}  // namespace

// A user or host as OpenSSH 9.6 takes it from the command line: no shell metacharacters, no
// leading '-' (an option to ssh), no space or control: the commands probe prints next are then
// safe to paste.
static bool safe_name(const std::string& s) {
    if (s.empty() || s[0] == '-') return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7f || std::strchr("'\"`$;&|<>(){}*?!~#\\", c)) return false;
    return true;
}

std::optional<ProbeTarget> parse_probe_target(const std::string& text) {
    ProbeTarget t;
    std::string rest = text;
    size_t at = rest.rfind('@');
    if (at != std::string::npos) {
        t.user = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (t.user.empty() || !safe_name(t.user)) return std::nullopt;
    }
    std::string port_text;
    if (!rest.empty() && rest[0] == '[') {  // [v6]:port
        size_t close = rest.find(']');
        if (close == std::string::npos) return std::nullopt;
        if (close + 1 < rest.size()) {
            if (rest[close + 1] != ':') return std::nullopt;
            port_text = rest.substr(close + 2);
            if (port_text.empty()) return std::nullopt;
        }
        rest = rest.substr(1, close - 1);
    } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
        port_text = rest.substr(rest.find(':') + 1);
        rest = rest.substr(0, rest.find(':'));
        if (port_text.empty()) return std::nullopt;
    }
    if (!safe_name(rest) || rest.find('/') != std::string::npos) return std::nullopt;
    t.host = rest;
    if (!port_text.empty()) {
        auto port = parse_whole_number(port_text, 1, 65535);
        if (!port) return std::nullopt;
        t.port = uint16_t(*port);
    }
    return t;
}

std::optional<int> parse_command_line(int argc, char** argv, CaptureOptions& o) {
    CLI::App app{"synwhy: why inbound TCP (SSH) connections to this host are refused or dropped"};
    app.set_version_flag("--version", std::string("synwhy ") + SYNWHY_VERSION);
    app.require_subcommand(1);

    std::vector<std::string> ports;
    std::string count_text;
    std::string duration_text;
    std::string settle_text;
    auto add_common = [&](CLI::App* sub) {
        sub->add_option("-p,--port", ports, "TCP port to watch, 1-65535 (repeatable; default 22)");
        sub->add_option("--netns", o.netns, "network namespace to watch: a name under /run/netns or a path");
        sub->add_flag("--all-netns", o.all_netns, "watch every network namespace");
        sub->add_flag("--json", o.json, "print JSON (report: one object; watch: one object per line)");
        sub->add_option("--ready-file", o.ready_file, "create this file once tracing is attached");
        sub->add_flag("--passive", o.passive,
                      "add no nft trace table: the firewall is named by backend only, not by rule");
        sub->add_option("--pcap", o.pcap_file,
                        "write the SYNs and the RSTs / SYN-ACKs / ICMP errors sent for them to this pcap file");
        sub->add_flag("--no-bpf", o.no_bpf,
                      "capture with a packet socket instead of BPF (also chosen when BPF cannot load): sees "
                      "SYNs, answers and handshakes, not where the kernel dropped a packet");
        sub->add_flag("-v,--verbose", o.verbose,
                      "say on stderr what synwhy does: ports, namespace, the capabilities it keeps");
    };
    CLI::App* watch = app.add_subcommand("watch", "print each inbound SYN and its fate as it happens");
    watch->footer(examples_watch);
    add_common(watch);
    watch->add_option("--metrics-file", o.metrics_file,
                      "keep SYN counters per port and verdict in this Prometheus text file (node_exporter textfile)");
    watch->add_flag("--journal", o.journal,
                    "send each flow to the systemd journal with SYNWHY_* fields (the default when stdout is the journal)");
    CLI::App* report = app.add_subcommand("report", "capture for a while, then print the causes, ranked");
    report->footer(examples_report);
    add_common(report);
    CLI::App* doctor = app.add_subcommand(
        "doctor", "check this kernel, its BTF and tracepoints, nft trace and the privileges synwhy needs");
    doctor->footer("Examples:\n  synwhy doctor            # paste its output into a bug report\n"
                   "  synwhy doctor --json\n");
    doctor->add_flag("--json", o.json, "print JSON");
    CLI::Option* duration_opt = report->add_option("-d,--duration", duration_text, "how long to capture at most (30s, 2m, 500ms; default 30s)");
    CLI::Option* count_opt =
        report->add_option("-c,--count", count_text, "stop after this many SYNs (plus a settle time)");
    report->add_option("--hostname", o.hostname,
                       "the name clients connect to: say whether it resolves to this host (A and AAAA)");
    CLI::Option* settle_opt = report->add_option("--settle", settle_text, "time left after the last counted SYN for its fate (default 1s)");
    ProbeArgs probe_args;
    CLI::App* probe = add_probe_subcommand(app, o, probe_args);

    if (auto status = reject_missing_or_unknown_command(app, argc, argv)) return *status;
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::cout << app.help();
        if (watch->parsed()) std::cout.flush();
        return exit_ok;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << "\n";
        return exit_ok;
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        std::replace(msg.begin(), msg.end(), '\n', ' ');
        std::cerr << "synwhy: " << msg << " (see synwhy --help)\n";
        return exit_usage;
    }
    if (probe->parsed()) {
        o.mode = Mode::probe;
        return finish_probe(probe_args, o.probe);
    }
    o.mode = watch->parsed() ? Mode::watch : doctor->parsed() ? Mode::doctor : Mode::report;
    if (!ports.empty()) {
        std::set<uint16_t> unique;
        o.ports.clear();
        for (const auto& text : ports) {
            auto port = parse_whole_number(text, 1, 65535);
            if (!port) {
                std::cerr << "synwhy: --port: '" << text << "' is not a port number from 1 to 65535 (one per --port)\n";
                return exit_usage;
            }
            if (!unique.insert(uint16_t(*port)).second) {
                std::cerr << "synwhy: --port " << *port << " given twice\n";
                return exit_usage;
            }
            o.ports.push_back(uint16_t(*port));
        }
    }
    if (count_opt->count() > 0) {
        auto n = parse_whole_number(count_text, 1, max_count);
        if (!n) {
            std::cerr << "synwhy: --count: '" << count_text << "' is not a whole number from 1 to " << max_count << "\n";
            return exit_usage;
        }
        o.count = *n;
    }
    for (auto [name, value] : {std::pair{"--netns", &o.netns}, {"--hostname", &o.hostname}, {"--ready-file", &o.ready_file},
                               {"--pcap", &o.pcap_file}, {"--metrics-file", &o.metrics_file}}) {
        const CLI::App* sub = o.mode == Mode::watch ? watch : report;
        const CLI::Option* opt = o.mode == Mode::doctor ? nullptr : sub->get_option_no_throw(name);
        if (opt && opt->count() > 0 && value->empty()) {
            std::cerr << "synwhy: " << name << ": an empty value\n";
            return exit_usage;
        }
    }
    if (duration_opt->count() > 0) {
        auto d = parse_duration(duration_text);
        if (!d) {
            std::cerr << "synwhy: --duration: '" << duration_text << "' is not a duration like 30s, 2m or 500ms (at most 168h)\n";
            return exit_usage;
        }
        o.duration = *d;
    }
    if (settle_opt->count() > 0) {
        auto d = parse_duration(settle_text);
        if (!d) {
            std::cerr << "synwhy: --settle: '" << settle_text << "' is not a duration like 1s or 500ms\n";
            return exit_usage;
        }
        o.settle = *d;
    }
    if (o.all_netns && !o.netns.empty()) {
        std::cerr << "synwhy: --netns and --all-netns exclude each other\n";
        return exit_usage;
    }
    if (o.all_netns && o.no_bpf) {
        std::cerr << "synwhy: --all-netns needs BPF: a packet socket sees one network namespace (use --netns)\n";
        return exit_usage;
    }
    return std::nullopt;
}

}  // namespace synwhy::cli
