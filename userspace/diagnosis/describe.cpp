#include "diagnosis/describe.h"

#include <time.h>

#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/ssh_units.h"

namespace synwhy {

std::string endpoint(const IpAddr& a, uint16_t port) {
    return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.str(), port) : fmt::format("{}:{}", a.str(), port);
}

std::string describe_listener(const Listener& l) {
    if (l.pid == 0) return fmt::format("a socket with no process on {}", endpoint(l.addr, l.port));
    return fmt::format("{} (pid {}) on {}", l.comm.empty() ? "?" : l.comm, l.pid, endpoint(l.addr, l.port));
}

bool rule_known_by_chain_only(const FirewallRule& r) {
    return r.backend == "iptables-legacy" && r.rule_num == 0 && !r.policy;
}

std::string describe_rule(const FirewallRule& r) {
    std::string where = r.backend == "iptables-legacy"
                            ? fmt::format("table {} chain {}", r.table, r.chain)
                            : fmt::format("{} {} {}", r.family, r.table, r.chain);
    if (r.backend == "iptables-legacy" && r.rule_num) where += fmt::format(" rule {}", r.rule_num);
    std::string via;
    for (const auto& c : r.path) via += c + " -> ";
    if (!via.empty()) where += " (via " + via + r.chain + ")";
    if (r.policy) return fmt::format("{}: chain policy {}", where, r.verdict);
    if (rule_known_by_chain_only(r)) {
        bool built_in = r.chain == "INPUT" || r.chain == "FORWARD" || r.chain == "OUTPUT" || r.chain == "PREROUTING" ||
                        r.chain == "POSTROUTING";  // only these have a policy
        return fmt::format("{}: a rule in this chain or in a chain it jumps to{} (several that may match the SYN "
                           "grew: the counters do not tell which)", where, built_in ? ", or its policy" : "");
    }
    if (r.backend != "iptables-legacy") where += fmt::format(" handle {}", r.handle);
    if (!r.text.empty()) where += fmt::format(": {}", r.text);
    else if (!r.comment.empty()) where += fmt::format(" comment \"{}\"", r.comment);
    return where;
}

bool listener_accepts(const Listener& l, const IpAddr& dst) {
    if (l.addr.family == Family::ipv4) return dst.family == Family::ipv4 && (l.addr.is_unspecified() || l.addr == dst);
    if (dst.family == Family::ipv6) return l.addr.is_unspecified() || l.addr == dst;
    // IPv4 SYN to an IPv6 socket: only a dual-stack socket, on :: or the v4-mapped address.
    if (l.v6only) return false;
    if (l.addr.is_unspecified()) return true;
    auto mapped = l.addr.v4_mapped();
    return mapped && *mapped == dst;
}

namespace detail {

// nftables (and iptables-nft, which is nftables underneath) drop inside nft_do_chain on some
// kernels, in nf_hook_slow on others; x_tables in ipt_do_table or nf_hook_slow. Only a location
// inside one backend names it: anything else is "netfilter" until a trace or a counter proves more.
std::string firewall_backend(const Event& drop) {
    if (drop.location.rfind("nft_", 0) == 0) return "nftables";
    if (drop.location.rfind("ipt_", 0) == 0 || drop.location.rfind("ip6t_", 0) == 0) return "iptables-legacy";
    return "netfilter";
}

std::string icmp_name(const Event& e) {
    if (e.src.family == Family::ipv4 && e.icmp_type == 3) {
        switch (e.icmp_code) {
        case 0: return "ICMP net unreachable";
        case 1: return "ICMP host unreachable";
        case 3: return "ICMP port unreachable";
        case 9: case 10: return "ICMP host administratively prohibited";
        case 13: return "ICMP administratively prohibited";
        }
    }
    if (e.src.family == Family::ipv6 && e.icmp_type == 1) {
        switch (e.icmp_code) {
        case 0: return "ICMPv6 no route";
        case 1: return "ICMPv6 administratively prohibited";
        case 3: return "ICMPv6 address unreachable";
        case 4: return "ICMPv6 port unreachable";
        }
    }
    return fmt::format("{} type {} code {}", e.src.family == Family::ipv4 ? "ICMP" : "ICMPv6", e.icmp_type,
                       e.icmp_code);
}

// At 99% of nf_conntrack_max new connections start being dropped inside netfilter.
bool conntrack_nearly_full(const HostSnapshot* host) {
    return host && host->conntrack_max > 0 && host->conntrack_count * 100 >= host->conntrack_max * 99;
}

std::string describe_foreign(const ForeignListener& f) {
    std::string where = f.netns_name.empty() ? fmt::format("netns {}", f.netns) : "netns " + f.netns_name;
    if (!f.container.empty()) where += " (container " + f.container + ")";
    return fmt::format("{} in {}", describe_listener(f.listener), where);
}

std::string family_name(Family f) { return f == Family::ipv4 ? "IPv4" : "IPv6"; }

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); i++) out += (i ? sep : "") + parts[i];
    return out;
}

std::string plural(uint64_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string clock_time(uint64_t epoch_s) {
    time_t secs = static_cast<time_t>(epoch_s);
    struct tm tm {};
    localtime_r(&secs, &tm);
    char buf[16];
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

std::string describe_net_program(const NetProgram& p) {
    bool xdp = p.attach.rfind("xdp", 0) == 0;
    std::string name = p.prog_name.empty() ? "" : fmt::format(" '{}'", p.prog_name);
    std::string held = p.holder_pid ? fmt::format("held by pid {} ({})", p.holder_pid, p.holder_comm)
                                    : "held by no process (pinned, or left attached)";
    return fmt::format("{} program {}{} on {} ({}), {}", xdp ? "XDP" : "tc", p.prog_id, name, p.ifname, p.attach, held);
}

bool has_manager(const HostSnapshot* host, const std::string& name) {
    return host && std::any_of(host->firewall_managers.begin(), host->firewall_managers.end(),
                               [&](const FirewallManager& m) { return m.name == name; });
}

// Why a listener on the right port did not take a SYN for dst.
std::string mismatch_reason(const Listener& l, const IpAddr& dst) {
    if (l.addr.family == Family::ipv6 && dst.family == Family::ipv4 && l.v6only)
        return fmt::format("{} is IPv6-only (V6ONLY) and the SYN is IPv4", endpoint(l.addr, l.port));
    if (l.addr.family == Family::ipv4 && dst.family == Family::ipv6)
        return fmt::format("{} is IPv4 only and the SYN is IPv6", endpoint(l.addr, l.port));
    return fmt::format("{} is bound to {}, not {}", endpoint(l.addr, l.port), l.addr.str(), dst.str());
}

std::vector<const Listener*> listeners_on(const HostSnapshot* host, uint16_t port) {
    std::vector<const Listener*> out;
    if (!host) return out;
    for (const auto& l : host->listeners)
        if (l.port == port) out.push_back(&l);
    return out;
}

// sshd's listeners (its own, or pid 1's for a socket unit that starts it) on ports other than
// `port`. One on a port that is itself watched is sshd where it is expected: a refusal on another
// watched port (an application's) is not about sshd.
std::vector<const Listener*> sshd_elsewhere(const HostSnapshot* host, uint16_t port,
                                            const std::vector<uint16_t>& watched) {
    std::vector<const Listener*> out;
    if (!host) return out;
    for (const auto& l : host->listeners)
        if (owner_of(l, host).serves_sshd && l.port != port &&
            std::find(watched.begin(), watched.end(), l.port) == watched.end())
            out.push_back(&l);
    return out;
}

std::vector<const ForeignListener*> foreign_on(const HostSnapshot* host, uint16_t port) {
    std::vector<const ForeignListener*> out;
    if (!host) return out;
    for (const auto& f : host->other_netns_listeners)
        if (f.listener.port == port) out.push_back(&f);
    return out;
}

std::vector<std::string> sshd_state_evidence(const HostSnapshot* host) {
    std::vector<std::string> ev;
    if (!host) return ev;
    std::vector<std::string> daemons;
    for (const auto& p : host->sshd_processes)
        if (p.is_listener) daemons.push_back(fmt::format("pid {} ({})", p.pid, p.config_path));
    ev.push_back(daemons.empty() ? "no sshd daemon process is running"
                                 : "sshd running: " + join(daemons, ", "));
    for (const auto& c : host->sshd_configs) {
        if (c.ok) {
            std::vector<std::string> ports;
            for (auto p : c.ports) ports.push_back(std::to_string(p));
            ev.push_back(fmt::format("sshd -T -f {}: port {}, listenaddress {}, addressfamily {}", c.config_path,
                                     join(ports, ","), join(c.listen_addresses, " "), c.address_family));
            if (!c.checked_with.empty()) ev.back() += " (checked " + c.checked_with + ")";
        } else if (c.error.empty() || is_missing_privsep_dir(c.error)) {
            // A stopped ssh.service takes /run/sshd with it: sshd -t then checks nothing.
            ev.push_back(fmt::format("sshd -t -f {}: {}", c.config_path,
                                     c.checked_with.empty() ? "not checked: its privilege separation directory is missing"
                                                            : c.checked_with));
        } else {
            ev.push_back(fmt::format("sshd -t -f {}: {}", c.config_path, c.error));
        }
    }
    append(ev, ssh_units_evidence(host));
    return ev;
}

std::vector<std::string> listener_evidence(const HostSnapshot* host, uint16_t port) {
    std::vector<std::string> ev;
    auto on_port = listeners_on(host, port);
    if (on_port.empty()) ev.push_back(fmt::format("no socket listens on port {} in this network namespace", port));
    for (const Listener* l : on_port)
        ev.push_back(fmt::format("listening: {}{}", describe_listener(*l), l->v6only ? " (IPv6 only)" : ""));
    return ev;
}

// The other namespaces the search for a listener did not enter (bounded): a refusal's verdict
// holds only for those it searched.
std::vector<std::string> search_limit_evidence(const HostSnapshot* host) {
    std::vector<std::string> ev;
    if (!host) return ev;
    for (const auto& e : host->probe_errors)
        if (e.find(other_netns_not_searched) != std::string::npos) ev.push_back(e);
    return ev;
}

}  // namespace detail

}  // namespace synwhy
