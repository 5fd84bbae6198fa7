#include "diagnosis/diagnose.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace synwhy {

namespace {

constexpr uint8_t tcp_rst = 0x04;

bool is_netfilter_drop(const Event& e) { return e.reason == "NETFILTER_DROP"; }
bool is_no_socket(const std::string& reason) { return reason == "NO_SOCKET"; }

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

}  // namespace

const HostSnapshot* host_for(const std::vector<HostSnapshot>& hosts, uint32_t netns) {
    for (const auto& h : hosts)
        if (h.netns == netns) return &h;
    // One snapshot stands for the one watched netns (fixtures leave inodes 0). With several, a
    // flow from a namespace nobody took a snapshot of is judged on its events alone: another
    // namespace's listeners would give it a wrong cause.
    if (hosts.size() == 1 && (netns == 0 || hosts.front().netns == 0)) return &hosts.front();
    return nullptr;
}

bool addressed_here(const FlowEvidence& f, const HostSnapshot* host) {
    if (!host || host->addresses.empty()) return true;  // unknown: keep it
    if (f.established || f.rst_by_tcp || !f.accepted_elsewhere.empty()) return true;  // the local stack answered
    if (f.key.dst.is_loopback()) return true;
    return std::find(host->addresses.begin(), host->addresses.end(), f.key.dst) != host->addresses.end();
}

namespace {

std::vector<const Listener*> listeners_on(const HostSnapshot* host, uint16_t port) {
    std::vector<const Listener*> out;
    if (!host) return out;
    for (const auto& l : host->listeners)
        if (l.port == port) out.push_back(&l);
    return out;
}

bool is_sshd(const Listener& l) { return l.comm == "sshd" || l.exe.ends_with("/sshd"); }

// sshd listeners on ports other than `port`. One on a port that is itself watched is sshd where
// it is expected: a refusal on another watched port (an application's) is not about sshd.
std::vector<const Listener*> sshd_elsewhere(const HostSnapshot* host, uint16_t port,
                                            const std::vector<uint16_t>& watched) {
    std::vector<const Listener*> out;
    if (!host) return out;
    for (const auto& l : host->listeners)
        if (is_sshd(l) && l.port != port && std::find(watched.begin(), watched.end(), l.port) == watched.end())
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

// Why a listener on the right port did not take a SYN for dst.
std::string mismatch_reason(const Listener& l, const IpAddr& dst) {
    if (l.addr.family == Family::ipv6 && dst.family == Family::ipv4 && l.v6only)
        return fmt::format("{} is IPv6-only (V6ONLY) and the SYN is IPv4", endpoint(l.addr, l.port));
    if (l.addr.family == Family::ipv4 && dst.family == Family::ipv6)
        return fmt::format("{} is IPv4 only and the SYN is IPv6", endpoint(l.addr, l.port));
    return fmt::format("{} is bound to {}, not {}", endpoint(l.addr, l.port), l.addr.str(), dst.str());
}

}  // namespace

std::string endpoint(const IpAddr& a, uint16_t port) {
    return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.str(), port) : fmt::format("{}:{}", a.str(), port);
}

std::string describe_listener(const Listener& l) {
    if (l.pid == 0) return fmt::format("a socket with no process on {}", endpoint(l.addr, l.port));
    return fmt::format("{} (pid {}) on {}", l.comm.empty() ? "?" : l.comm, l.pid, endpoint(l.addr, l.port));
}

std::string describe_rule(const FirewallRule& r) {
    std::string where = r.backend == "iptables-legacy"
                            ? fmt::format("table {} chain {} rule {}", r.table, r.chain, r.rule_num)
                            : fmt::format("{} {} {}", r.family, r.table, r.chain);
    std::string via;
    for (const auto& c : r.path) via += c + " -> ";
    if (!via.empty()) where += " (via " + via + r.chain + ")";
    if (r.policy) return fmt::format("{}: chain policy {}", where, r.verdict);
    if (r.backend != "iptables-legacy") where += fmt::format(" handle {}", r.handle);
    if (!r.text.empty()) where += fmt::format(": {}", r.text);
    else if (!r.comment.empty()) where += fmt::format(" comment \"{}\"", r.comment);
    return where;
}

std::vector<std::string> rule_fix(const FirewallRule& r, uint16_t port) {
    std::vector<std::string> fix;
    bool ufw = r.chain.rfind("ufw", 0) == 0 || std::any_of(r.path.begin(), r.path.end(), [](const std::string& c) {
                   return c.rfind("ufw", 0) == 0;
               });
    if (ufw) fix.push_back(fmt::format("ufw allow {}/tcp", port));
    if (r.table == "firewalld")
        fix.push_back("firewall-cmd --add-service=ssh --permanent && firewall-cmd --reload");
    if (r.backend == "iptables-legacy") {
        std::string tool = r.family == "ip6" ? "ip6tables-legacy" : "iptables-legacy";
        if (r.policy)
            fix.push_back(fmt::format("{} -t {} -I {} -p tcp --dport {} -j ACCEPT", tool, r.table, r.chain, port));
        else
            fix.push_back(fmt::format("{} -t {} -D {} {}", tool, r.table, r.chain, r.rule_num));
        return fix;
    }
    if (r.policy)
        fix.push_back(fmt::format("nft insert rule {} {} {} tcp dport {} accept", r.family, r.table, r.chain, port));
    else
        fix.push_back(fmt::format("nft delete rule {} {} {} handle {}", r.family, r.table, r.chain, r.handle));
    return fix;
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

void FlowEvidence::add(const Event& e) {
    if (e.ts_ns && (first_ns == 0 || e.ts_ns < first_ns)) first_ns = e.ts_ns;
    last_ns = std::max(last_ns, e.ts_ns);
    if (ifname.empty() && !e.outbound) ifname = e.ifname;
    switch (e.kind) {
    case EventKind::syn_rx: syns++; break;
    case EventKind::drop:
        if (e.outbound) {
            if (!outbound_drop) outbound_drop = e;
        } else if (!inbound_drop) {
            inbound_drop = e;
        }
        break;
    case EventKind::rst_sent:
        rst_by_tcp = true;
        if (rst_reason.empty()) rst_reason = e.reason;
        break;
    case EventKind::icmp_sent:
        if (!icmp) icmp = e;
        break;
    case EventKind::tx_rst: rst_on_wire = true; break;
    case EventKind::tx_synack: synack_sent = true; break;
    case EventKind::established: established = true; break;
    case EventKind::synack_retrans:
        synack_sent = true;
        synack_retransmits++;
        break;
    case EventKind::listen_change:
    case EventKind::process_exit: break;
    case EventKind::firewall_verdict:
        if (!e.rule) break;
        if (e.outbound) {
            if (!outbound_rule) outbound_rule = e.rule;
        } else if (!inbound_rule) {
            inbound_rule = e.rule;
        }
        break;
    }
}

FlowEvidence* fold_event(std::map<FlowKey, FlowEvidence>& flows, const Event& e) {
    if (e.kind == EventKind::listen_change || e.kind == EventKind::process_exit) return nullptr;
    FlowKey key = FlowKey::of(e);
    if (e.kind == EventKind::established) {
        auto exact = flows.find(key);
        if (exact == flows.end() || exact->second.syns == 0) {
            for (auto& [k, f] : flows)
                if (k.src == key.src && k.sport == key.sport && f.syns > 0 && !f.established) {
                    f.add(e);
                    f.accepted_elsewhere = fmt::format("{} in netns {}", endpoint(key.dst, key.dport), key.netns);
                    return &f;
                }
        }
    }
    auto [it, inserted] = flows.try_emplace(key);
    if (inserted) it->second.key = key;
    it->second.add(e);
    return &it->second;
}

bool FlowEvidence::settled() const {
    return established || inbound_drop || outbound_drop || rst_by_tcp || rst_on_wire || icmp || inbound_rule;
}

Flow classify(const FlowEvidence& f, const HostSnapshot* host, const std::vector<uint16_t>& watched) {
    Flow out;
    out.family = f.key.src.family;
    out.src = f.key.src;
    out.dst = f.key.dst;
    out.sport = f.key.sport;
    out.dport = f.key.dport;
    out.netns = f.key.netns;
    out.ifname = f.ifname;
    out.first_ns = f.first_ns;
    out.last_ns = f.last_ns;
    out.syns = f.syns;
    const std::string to = endpoint(f.key.dst, f.key.dport);

    if (f.established) {
        out.verdict = cause::accepted;
        out.detail = fmt::format("handshake to {} completed", to);
        if (!f.accepted_elsewhere.empty()) {
            out.detail += ", followed through DNAT to " + f.accepted_elsewhere;
            return out;
        }
        for (const Listener* l : listeners_on(host, f.key.dport))
            if (listener_accepts(*l, f.key.dst)) {
                out.detail += ", accepted by " + describe_listener(*l);
                break;
            }
        return out;
    }
    // A full conntrack table drops new connections inside netfilter too (NF_DROP from
    // nf_conntrack_in): no rule did it, so say so rather than blame the ruleset.
    bool conntrack_full = conntrack_nearly_full(host);
    if (f.inbound_drop && is_netfilter_drop(*f.inbound_drop) && !f.inbound_rule && conntrack_full) {
        out.verdict = cause::kernel_drop;
        out.detail = fmt::format("dropped by netfilter with no rule: the conntrack table is full ({}/{})",
                                 host->conntrack_count, host->conntrack_max);
        return out;
    }
    if ((f.inbound_drop && is_netfilter_drop(*f.inbound_drop)) || f.inbound_rule) {
        std::string backend = f.inbound_rule ? f.inbound_rule->backend : firewall_backend(*f.inbound_drop);
        std::string where = f.inbound_rule ? describe_rule(*f.inbound_rule) : "(" + f.inbound_drop->location + ")";
        bool firewall_rst = f.rst_on_wire && !f.rst_by_tcp;
        bool rejecting_rule = f.inbound_rule && f.inbound_rule->verdict == "reject";
        out.rule = f.inbound_rule;
        if (f.icmp || firewall_rst || rejecting_rule) {
            out.verdict = cause::firewall_reject;
            out.detail = fmt::format("rejected by {} {}; the client got {}", backend, where,
                                     f.icmp ? icmp_name(*f.icmp) : firewall_rst ? std::string("a TCP RST") : std::string("an error"));
        } else {
            out.verdict = cause::firewall_drop;
            out.detail = fmt::format("dropped by {} {}", backend, where);
        }
        return out;
    }
    bool refused_by_tcp = f.rst_by_tcp || (f.inbound_drop && is_no_socket(f.inbound_drop->reason));
    if (refused_by_tcp) {
        std::string why = f.rst_reason.empty() ? "" : fmt::format(" (reset reason {})", f.rst_reason);
        auto on_port = listeners_on(host, f.key.dport);
        bool any_accepts = std::any_of(on_port.begin(), on_port.end(),
                                       [&](const Listener* l) { return listener_accepts(*l, f.key.dst); });
        if (!on_port.empty() && !any_accepts) {
            out.verdict = cause::bound_other_address;
            out.detail = fmt::format("refused{}: {}", why, mismatch_reason(*on_port.front(), f.key.dst));
            return out;
        }
        auto elsewhere = sshd_elsewhere(host, f.key.dport, watched);
        if (on_port.empty() && !elsewhere.empty()) {
            out.verdict = cause::listening_elsewhere;
            out.detail = fmt::format("refused{}: nothing listens on :{}; sshd listens on :{}", why, f.key.dport,
                                     elsewhere.front()->port);
            return out;
        }
        auto foreign = foreign_on(host, f.key.dport);
        if (on_port.empty() && elsewhere.empty() && !foreign.empty()) {
            out.verdict = cause::other_netns;
            out.detail = fmt::format("refused{}: nothing listens on :{} here; {}", why, f.key.dport,
                                     describe_foreign(*foreign.front()));
            return out;
        }
        out.verdict = cause::no_listener;
        out.detail = any_accepts
                         ? fmt::format("refused{}: no listener on {} when the SYN came (one listens now)", why, to)
                         : fmt::format("refused{}: nothing listens on {}", why, to);
        return out;
    }
    // Once a SYN-ACK went out, a retransmitted SYN is answered again and then discarded by
    // tcp_v4_rcv/tcp_v6_rcv (NOT_SPECIFIED): that drop is the stack at work, not the cause.
    bool duplicate_syn_discarded = f.inbound_drop && f.synack_sent && (f.inbound_drop->tcp_flags & 0x02) &&
                                   f.inbound_drop->reason == "NOT_SPECIFIED";
    if (f.inbound_drop && !duplicate_syn_discarded) {
        out.verdict = cause::kernel_drop;
        out.detail = fmt::format("dropped by the kernel: reason {} at {}", f.inbound_drop->reason,
                                 f.inbound_drop->location);
        return out;
    }
    if (f.outbound_drop || f.outbound_rule) {
        bool netfilter = f.outbound_rule || is_netfilter_drop(*f.outbound_drop);
        uint8_t flags = f.outbound_drop ? f.outbound_drop->tcp_flags : 0;
        out.verdict = netfilter ? cause::reply_dropped : cause::kernel_drop;
        out.rule = f.outbound_rule;
        out.detail = fmt::format("the reply ({}) was dropped on the way out: {}", (flags & tcp_rst) ? "RST" : "SYN-ACK",
                                 f.outbound_rule ? "by nftables " + describe_rule(*f.outbound_rule)
                                                 : fmt::format("reason {} at {}", f.outbound_drop->reason,
                                                               f.outbound_drop->location));
        return out;
    }
    if (f.icmp) {
        out.verdict = cause::firewall_reject;
        out.detail = fmt::format("answered with {}", icmp_name(*f.icmp));
        return out;
    }
    if (f.rst_on_wire) {
        // A RST left without tcp_send_reset (a kernel without that tracepoint): refused by correlation.
        out.verdict = cause::no_listener;
        out.detail = fmt::format("refused: a RST answered the SYN to {}", to);
        return out;
    }
    if (f.synack_sent) {
        out.verdict = cause::handshake_incomplete;
        out.detail = fmt::format("SYN-ACK sent{}, no ACK came back",
                                 f.synack_retransmits ? fmt::format(" and retransmitted {}x", f.synack_retransmits) : "");
        return out;
    }
    for (const Listener* l : listeners_on(host, f.key.dport)) {
        if (listener_accepts(*l, f.key.dst) && l->backlog > 0 && l->accept_queue >= l->backlog) {
            out.verdict = cause::listen_overflow;
            out.detail = fmt::format("the accept queue of {} is full ({}/{})", describe_listener(*l),
                                     l->accept_queue, l->backlog);
            return out;
        }
    }
    out.verdict = cause::unanswered;
    out.detail = "the SYN arrived; no answer and no drop were seen";
    return out;
}

namespace {

// Lower is more important when two causes cover as many flows.
int severity(const std::string& code) {
    static const std::vector<std::string> order = {
        cause::firewall_drop,   cause::firewall_reject, cause::no_listener,          cause::listening_elsewhere,
        cause::bound_other_address, cause::other_netns, cause::reply_dropped, cause::kernel_drop,         cause::listen_overflow,
        cause::handshake_incomplete, cause::unanswered,  cause::not_arriving,         cause::accepted};
    auto it = std::find(order.begin(), order.end(), code);
    return static_cast<int>(it - order.begin());
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
        } else {
            ev.push_back(fmt::format("sshd -t -f {}: {}", c.config_path, c.error));
        }
    }
    if (host->systemd_running) {
        for (const auto& u : host->units)
            ev.push_back(fmt::format("{}: {} ({}), {}", u.name, u.active_state, u.sub_state, u.unit_file_state));
    } else {
        ev.push_back("systemd is not running here");
    }
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

const SshdConfig* broken_config(const HostSnapshot* host) {
    if (!host) return nullptr;
    for (const auto& c : host->sshd_configs)
        if (!c.ok && !c.error.empty()) return &c;
    return nullptr;
}

std::vector<std::string> start_sshd_fix(const HostSnapshot* host) {
    std::vector<std::string> fix;
    if (const SshdConfig* c = broken_config(host)) {
        fix.push_back(fmt::format("fix {}: {}", c->config_path, c->error));
        fix.push_back(fmt::format("check it with: sshd -t -f {}", c->config_path));
    }
    if (host && host->systemd_running) {
        const SystemdUnit* service = nullptr;
        const SystemdUnit* socket = nullptr;
        for (const auto& u : host->units) {
            if (u.name.ends_with(".service") && !service) service = &u;
            if (u.name.ends_with(".socket") && !socket) socket = &u;
        }
        auto masked = [](const SystemdUnit* u) {
            return u && (u->load_state == "masked" || u->unit_file_state == "masked");
        };
        // Socket activation (Debian's ssh.socket, Ubuntu >= 22.10): systemd itself listens and
        // starts sshd per connection, so it is the socket unit that must run.
        if (socket && socket->unit_file_state == "enabled") {
            if (masked(socket)) fix.push_back(fmt::format("systemctl unmask {}", socket->name));
            fix.push_back(fmt::format("systemctl restart {}", socket->name));
        } else {
            std::string name = service ? service->name : "ssh.service";
            if (masked(service)) fix.push_back(fmt::format("systemctl unmask {}", name));
            fix.push_back(fmt::format("systemctl enable --now {}", name));
        }
    } else {
        std::string config = "/etc/ssh/sshd_config";
        if (host && !host->sshd_configs.empty()) config = host->sshd_configs.front().config_path;
        fix.push_back(config == "/etc/ssh/sshd_config" ? "start sshd: /usr/sbin/sshd"
                                                        : fmt::format("start sshd: /usr/sbin/sshd -f {}", config));
    }
    return fix;
}

std::string config_of(const HostSnapshot* host, int pid) {
    if (host)
        for (const auto& p : host->sshd_processes)
            if (p.pid == pid) return p.config_path;
    return "/etc/ssh/sshd_config";
}

std::string restart_sshd(const HostSnapshot* host) {
    return host && host->systemd_running ? "systemctl restart ssh" : "restart sshd (kill -HUP its daemon pid)";
}

// What not-arriving adds from the name the client uses and the SYNs that came to other ports.
void explain_not_arriving(Cause& c, const DiagnosisInput& in, const HostSnapshot* host, uint16_t port) {
    if (in.hostname) {
        const HostnameCheck& h = *in.hostname;
        if (!h.error.empty()) {
            c.evidence.push_back(fmt::format("{} does not resolve here: {}", h.name, h.error));
            c.fix.insert(c.fix.begin(), fmt::format("fix the DNS record of {} (getent ahosts {})", h.name, h.name));
        } else {
            std::vector<std::string> addrs, local;
            for (const auto& a : h.addresses) {
                addrs.push_back(a.str());
                if (host && std::find(host->addresses.begin(), host->addresses.end(), a) != host->addresses.end())
                    local.push_back(a.str());
            }
            if (local.empty()) {
                c.evidence.push_back(fmt::format("{} resolves to {}: none of them is an address of this host", h.name,
                                                 join(addrs, ", ")));
                c.fix.insert(c.fix.begin(), fmt::format("{} points elsewhere: fix its DNS record (or the client's "
                                                        "/etc/hosts) to one of this host's addresses", h.name));
            } else {
                c.evidence.push_back(fmt::format("{} resolves to {}; {} is this host's, so the SYNs are lost on the "
                                                 "way (a firewall upstream, routing)", h.name, join(addrs, ", "),
                                                 join(local, ", ")));
            }
        }
    }
    std::vector<OtherPortSyn> others = in.other_port_syns;
    std::sort(others.begin(), others.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    size_t shown = 0;
    for (const auto& o : others) {
        if (host && o.netns != host->netns) continue;
        if (shown++ == 5) break;
        c.evidence.push_back(fmt::format("SYN{} from {} arrived on port {} instead", o.count == 1 ? "" : "s",
                                         o.src.str(), o.dport));
        if (shown == 1)
            c.fix.insert(c.fix.begin(), fmt::format("the client {} connects to port {}, not {}: check its -p or the "
                                                    "Port in its ~/.ssh/config", o.src.str(), o.dport, port));
    }
}

Cause build_cause(const std::string& code, const std::vector<const Flow*>& flows,
                  const std::vector<const FlowEvidence*>& evidence, const std::vector<HostSnapshot>& hosts,
                  uint16_t default_port, const std::vector<uint16_t>& watched) {
    Cause c;
    c.code = code;
    c.flows = static_cast<uint32_t>(flows.size());
    const Flow* f = flows.empty() ? nullptr : flows.front();
    const HostSnapshot* host = f ? host_for(hosts, f->netns) : hosts.empty() ? nullptr : &hosts.front();
    uint16_t port = f ? f->dport : default_port;
    uint64_t syns = 0;
    std::set<std::string> clients, targets;
    for (const Flow* fl : flows) {
        syns += fl->syns;
        clients.insert(fl->src.str());
        targets.insert(endpoint(fl->dst, fl->dport));
    }
    std::vector<std::string> target_list(targets.begin(), targets.end());
    std::string target = join(target_list, ", ");
    if (f)
        c.evidence.push_back(fmt::format("{} from {} to {} ({} flow{})", plural(syns, "SYN", "SYNs"),
                                         join(std::vector<std::string>(clients.begin(), clients.end()), ", "),
                                         target, flows.size(), flows.size() == 1 ? "" : "s"));
    auto add_details = [&] {
        std::set<std::string> seen;
        for (const Flow* fl : flows)
            if (seen.insert(fl->detail).second && seen.size() <= 3) c.evidence.push_back(fl->detail);
    };
    auto append = [](std::vector<std::string>& to, const std::vector<std::string>& from) {
        to.insert(to.end(), from.begin(), from.end());
    };

    if (code == cause::accepted) {
        c.summary = fmt::format("{} to {} completed the TCP handshake", plural(c.flows, "connection", "connections"),
                                target);
        add_details();
        c.evidence.push_back("TCP is fine: if the client still fails, look after the handshake "
                             "(authentication, MaxStartups, the banner; ssh -v)");
    } else if (code == cause::no_listener) {
        c.summary = fmt::format("connections to {} are refused: nothing listens on port {}", target, port);
        add_details();
        append(c.evidence, listener_evidence(host, port));
        append(c.evidence, search_limit_evidence(host));
        append(c.evidence, sshd_state_evidence(host));
        c.fix = start_sshd_fix(host);
    } else if (code == cause::other_netns) {
        auto foreign = foreign_on(host, port);
        c.summary = fmt::format("connections to {} are refused: nothing listens on :{} in this namespace; {}", target,
                                port, foreign.empty() ? std::string("a listener exists in another one")
                                                      : describe_foreign(*foreign.front()));
        add_details();
        for (const ForeignListener* x : foreign) c.evidence.push_back("listening elsewhere: " + describe_foreign(*x));
        append(c.evidence, listener_evidence(host, port));
        append(c.evidence, search_limit_evidence(host));
        c.evidence.push_back("no DNAT maps the port: the SYN was answered by this namespace's TCP stack");
        c.fix.push_back(fmt::format("publish the port: docker run -p {}:{} … (or a DNAT rule to the container's address)",
                                    port, port));
        c.fix.push_back("or connect to the container's own address and port");
    } else if (code == cause::listening_elsewhere) {
        auto elsewhere = sshd_elsewhere(host, port, watched);
        std::set<uint16_t> other_ports;
        for (const Listener* l : elsewhere) other_ports.insert(l->port);
        uint16_t other = other_ports.empty() ? 0 : *other_ports.begin();
        const Listener* l = elsewhere.empty() ? nullptr : elsewhere.front();
        c.summary = fmt::format("connections to {} are refused: nothing listens on :{}; {} listens on :{}", target,
                                port, l ? fmt::format("sshd (pid {})", l->pid) : std::string("sshd"), other);
        add_details();
        for (const Listener* x : elsewhere) c.evidence.push_back("listening: " + describe_listener(*x));
        append(c.evidence, sshd_state_evidence(host));
        std::string addr = f ? (f->dst.family == Family::ipv6 ? f->dst.str() : f->dst.str()) : "HOST";
        c.fix.push_back(fmt::format("connect to the port sshd uses: ssh -p {} user@{}", other, addr));
        c.fix.push_back(fmt::format("or set `Port {}` in {} and {}", port, config_of(host, l ? l->pid : 0),
                                    restart_sshd(host)));
    } else if (code == cause::bound_other_address) {
        auto on_port = listeners_on(host, port);
        std::vector<std::string> bound;
        for (const Listener* l : on_port) bound.push_back(l->addr.str() + (l->v6only ? " (v6only)" : ""));
        const Listener* l = on_port.empty() ? nullptr : on_port.front();
        c.summary = fmt::format("connections to {} are refused: {} listens on port {} only at {}", target,
                                l ? fmt::format("{} (pid {})", l->comm, l->pid) : std::string("a socket"), port,
                                join(bound, ", "));
        add_details();
        for (const Listener* x : on_port)
            c.evidence.push_back(fmt::format("listening: {}{}", describe_listener(*x), x->v6only ? " (IPv6 only)" : ""));
        append(c.evidence, sshd_state_evidence(host));
        std::string config = config_of(host, l ? l->pid : 0);
        bool family_only = l && f && l->addr.is_unspecified();
        if (family_only)
            c.fix.push_back(fmt::format("let sshd take {} too: `AddressFamily any` and `ListenAddress {}` in {}, then {}",
                                        family_name(f->dst.family), f->dst.family == Family::ipv4 ? "0.0.0.0" : "::",
                                        config, restart_sshd(host)));
        else
            c.fix.push_back(fmt::format("listen on the address clients use: `ListenAddress {}` (or 0.0.0.0 / ::) in {}, then {}",
                                        f ? f->dst.str() : "ADDR", config, restart_sshd(host)));
        if (l && !bound.empty() && !l->addr.is_unspecified())
            c.fix.push_back(fmt::format("or connect to the bound address: ssh -p {} user@{}", port, l->addr.str()));
    } else if (code == cause::firewall_drop || code == cause::firewall_reject) {
        std::string backend = "netfilter";
        for (const FlowEvidence* e : evidence)
            if (e->inbound_drop) {
                backend = firewall_backend(*e->inbound_drop);
                break;
            }
        c.summary = fmt::format("a firewall rule ({}) {} SYNs to {}", backend,
                                code == cause::firewall_drop ? "drops" : "rejects", target);
        add_details();
        if (code == cause::firewall_drop)
            c.evidence.push_back("the client sees a timeout: it retransmits the SYN and gives up");
        append(c.evidence, listener_evidence(host, port));
        for (const Flow* fl : flows)
            if (fl->rule) {
                c.rule = fl->rule;
                break;
            }
        if (c.rule) {
            backend = c.rule->backend;
            c.summary = fmt::format("{} ({}) {} SYNs to {}: {}", c.rule->policy ? "a chain policy" : "a firewall rule",
                                    backend, code == cause::firewall_drop ? "drops" : "rejects", target,
                                    describe_rule(*c.rule));
            c.fix = rule_fix(*c.rule, port);
        } else {
            // No trace and no counter named the rule: point at every backend this host has.
            bool legacy = backend == "iptables-legacy" || (host && host->iptables_legacy_present);
            if (backend != "iptables-legacy") {
                c.fix.push_back(fmt::format("find the rule: nft -a list ruleset | grep -w 'dport {}'", port));
                c.fix.push_back("then delete it: nft delete rule FAMILY TABLE CHAIN handle N "
                                "(or, for ufw: ufw allow " + std::to_string(port) + "/tcp)");
            }
            if (legacy) {
                c.fix.push_back(fmt::format("find the rule: iptables-legacy -L -n -v --line-numbers | grep -w {} "
                                            "(and ip6tables-legacy for IPv6)", port));
                c.fix.push_back(fmt::format("then delete it (iptables-legacy -D CHAIN NUM) or insert an accept before it: "
                                            "iptables-legacy -I INPUT -p tcp --dport {} -j ACCEPT", port));
            }
        }
    } else if (code == cause::not_arriving) {
        c.summary = fmt::format("no SYN to port {} reached this host during the capture", port);
        if (host) {
            std::vector<std::string> addrs;
            for (const auto& a : host->addresses)
                if (!a.is_loopback()) addrs.push_back(a.str());
            c.evidence.push_back("this host's addresses: " + (addrs.empty() ? std::string("none") : join(addrs, ", ")));
        }
        append(c.evidence, listener_evidence(host, port));
        c.fix.push_back("check the address the client connects to (ssh -v prints it) against this host's addresses");
        c.fix.push_back("check DNS (getent ahosts NAME), upstream and cloud firewalls (security groups), the client's network");
    } else if (code == cause::kernel_drop) {
        add_details();
        std::string reason, location, ifname = f && !f->ifname.empty() ? f->ifname : "IF";
        for (const FlowEvidence* e : evidence)
            if (e->inbound_drop) {
                reason = e->inbound_drop->reason;
                location = e->inbound_drop->location;
            }
        // The drops with a known remedy, by reason and, where the reason is generic, by location.
        bool conntrack_full = conntrack_nearly_full(host);
        if (reason == "NETFILTER_DROP" && conntrack_full) {
            c.summary = fmt::format("the conntrack table is full ({}/{}): new connections to {} are dropped",
                                    host->conntrack_count, host->conntrack_max, target);
            c.fix.push_back(fmt::format("raise the limit, in the root network namespace (one limit for all): "
                                        "sysctl -w net.netfilter.nf_conntrack_max={}",
                                        host->conntrack_max * 2));
            c.fix.push_back("and find who fills it: conntrack -S; conntrack -L | awk '{print $5}' | sort | uniq -c | sort -rn | head");
        } else if (reason == "IP_RPFILTER") {
            c.summary = fmt::format("reverse-path filtering drops SYNs to {}: the route back to the client leaves "
                                    "by another interface than {}", target, ifname);
            c.fix.push_back("fix the route back to the client (ip route get CLIENT_ADDR), or make the filter loose: "
                            "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf." + ifname + ".rp_filter=2");
        } else if (reason == "TC_INGRESS" || location.rfind("tcf_", 0) == 0) {
            c.summary = fmt::format("a tc ingress filter on {} drops SYNs to {}", ifname, target);
            c.fix.push_back(fmt::format("see it: tc filter show dev {} ingress", ifname));
            c.fix.push_back(fmt::format("remove it: tc filter del dev {} ingress (or tc qdisc del dev {} clsact)", ifname,
                                        ifname));
        } else if (reason == "XDP" || location.rfind("do_xdp_generic", 0) == 0 || location.rfind("bpf_prog_run_generic_xdp", 0) == 0) {
            c.summary = fmt::format("an XDP program on {} drops SYNs to {}", ifname, target);
            c.fix.push_back(fmt::format("see it: ip link show dev {} (xdp/xdpgeneric prog/id), bpftool net show dev {}",
                                        ifname, ifname));
            c.fix.push_back(fmt::format("detach it: ip link set dev {} xdpgeneric off (or xdp off)", ifname));
        } else {
            c.summary = fmt::format("the kernel drops SYNs to {}: reason {}", target, reason);
            c.fix.push_back(fmt::format("look up drop reason {} (include/net/dropreason-core.h) and {}", reason,
                                        location.empty() ? "the function named" : location.substr(0, location.find('+'))));
        }
    } else if (code == cause::reply_dropped) {
        c.summary = fmt::format("the answers from {} are dropped on the way out", target);
        add_details();
        for (const Flow* fl : flows)
            if (fl->rule) {
                c.rule = fl->rule;
                break;
            }
        if (c.rule) {
            c.summary += ": " + describe_rule(*c.rule);
            c.fix = rule_fix(*c.rule, port);
        } else {
            c.fix.push_back(fmt::format("find the output rule: nft -a list ruleset | grep -w 'sport {}'", port));
        }
    } else if (code == cause::handshake_incomplete) {
        c.summary = fmt::format("SYN-ACKs from {} get no ACK back", target);
        add_details();
        c.fix.push_back("check the return path to the client (asymmetric routing, a client-side firewall)");
    } else if (code == cause::listen_overflow) {
        c.summary = fmt::format("the listener on {} does not accept: its queue is full", target);
        add_details();
        if (host && host->listen_overflows_grew >= 0)
            c.evidence.push_back(fmt::format("TcpExt ListenOverflows +{}, ListenDrops +{} during the capture",
                                             host->listen_overflows_grew, host->listen_drops_grew));
        for (const Listener* l : listeners_on(host, port))
            if (l->pid)
                c.fix.insert(c.fix.begin(), fmt::format("look at {} (pid {}): ps -o stat,pid,cmd -p {} "
                                                        "(T = stopped: kill -CONT {}; else restart it)",
                                                        l->comm, l->pid, l->pid, l->pid));
        c.fix.push_back("sshd is stuck or overloaded: look at its state (ps -o stat,pid,cmd -C sshd), restart it");
    } else {
        c.summary = fmt::format("SYNs to {} got no answer that synwhy could see", target);
        add_details();
        append(c.evidence, listener_evidence(host, port));
    }
    // One line per fact and per command, however many listeners (v4 and v6) led to it.
    auto dedupe = [](std::vector<std::string>& lines) {
        std::set<std::string> seen;
        lines.erase(std::remove_if(lines.begin(), lines.end(), [&](const std::string& l) { return !seen.insert(l).second; }),
                    lines.end());
    };
    dedupe(c.evidence);
    dedupe(c.fix);
    return c;
}

}  // namespace

void attach_legacy_rule(FlowEvidence& f, const std::vector<FirewallRule>& legacy_rules, const HostSnapshot* host) {
    if (f.inbound_rule || !f.inbound_drop || !is_netfilter_drop(*f.inbound_drop)) return;
    // A drop inside nft_do_chain is nftables'; anywhere else a legacy rule whose counter grew
    // during the capture is the proof (legacy_rules holds only those).
    if (firewall_backend(*f.inbound_drop) == "nftables") return;
    if (host && !host->iptables_legacy_present) return;
    std::string family = f.key.src.family == Family::ipv4 ? "ip" : "ip6";
    for (const auto& r : legacy_rules)
        if (r.family == family) {
            f.inbound_rule = r;
            return;
        }
}

Diagnosis diagnose(const DiagnosisInput& input) {
    Diagnosis d;
    std::map<FlowKey, FlowEvidence> flows;
    for (const Event& e : input.events) fold_event(flows, e);
    // Flows known only from a reply or a state change, without an inbound SYN, are not attempts
    // we watched (e.g. the capture started mid-handshake). SYNs to addresses that are not this
    // namespace's pass through it (a router, a Docker or KVM host forwarding to its guests):
    // counted apart, never diagnosed as this host's.
    std::vector<const FlowEvidence*> kept;
    for (auto& [key, ev] : flows) {
        if (ev.syns == 0) continue;
        const HostSnapshot* host = host_for(input.hosts, key.netns);
        if (!addressed_here(ev, host)) {
            d.syns_forwarded += ev.syns;
            continue;
        }
        d.syns_seen += ev.syns;
        attach_legacy_rule(ev, input.legacy_rules, host);
        kept.push_back(&ev);
    }
    std::sort(kept.begin(), kept.end(),
              [](const FlowEvidence* a, const FlowEvidence* b) { return a->first_ns < b->first_ns; });
    for (const FlowEvidence* ev : kept)
        d.flows.push_back(classify(*ev, host_for(input.hosts, ev->key.netns), input.ports));

    uint16_t default_port = input.ports.empty() ? 22 : input.ports.front();
    if (d.flows.empty()) {
        d.causes.push_back(build_cause(cause::not_arriving, {}, {}, input.hosts, default_port, input.ports));
        explain_not_arriving(d.causes.back(), input, input.hosts.empty() ? nullptr : &input.hosts.front(),
                             default_port);
        return d;
    }
    // One cause per (code, namespace, port, rule): two ports refused for two reasons, or two
    // rules dropping, are two causes with their own fix.
    using CauseKey = std::tuple<std::string, uint32_t, uint16_t, std::string>;
    std::map<CauseKey, std::pair<std::vector<const Flow*>, std::vector<const FlowEvidence*>>> groups;
    for (size_t i = 0; i < d.flows.size(); i++) {
        const Flow& fl = d.flows[i];
        auto& slot = groups[{fl.verdict, fl.netns, fl.dport, fl.rule ? describe_rule(*fl.rule) : ""}];
        slot.first.push_back(&fl);
        slot.second.push_back(kept[i]);
    }
    for (const auto& [key, group] : groups)
        d.causes.push_back(build_cause(std::get<0>(key), group.first, group.second, input.hosts, default_port, input.ports));
    std::stable_sort(d.causes.begin(), d.causes.end(), [](const Cause& a, const Cause& b) {
        bool a_ok = a.code == cause::accepted, b_ok = b.code == cause::accepted;
        if (a_ok != b_ok) return b_ok;  // failures first, whatever their count
        if (a.flows != b.flows) return a.flows > b.flows;
        return severity(a.code) < severity(b.code);
    });
    return d;
}

}  // namespace synwhy
