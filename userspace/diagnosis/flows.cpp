// Folding kernel events into flows, and which flows (and which snapshot) the diagnosis judges.
#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/describe.h"
#include "diagnosis/diagnose.h"
#include "diagnosis/drop_fallback.h"
#include "diagnosis/interfaces.h"

namespace synwhy {

using detail::firewall_backend;
using detail::is_netfilter_drop;

void FlowEvidence::add(const Event& e) {
    if (e.ts_ns && (first_ns == 0 || e.ts_ns < first_ns)) first_ns = e.ts_ns;
    last_ns = std::max(last_ns, e.ts_ns);
    if (e.kind == EventKind::syn_rx && ifindex == 0) {  // the SYN's own arrival names the interface
        ifname = e.ifname;
        ifindex = e.ifindex;
        vlan_id = e.vlan_id;
    }
    if (ifname.empty() && !e.outbound) ifname = e.ifname;
    if (e.nat_dst && !nat_dst) {
        nat_dst = e.nat_dst;
        nat_dport = e.nat_dport;
    }
    switch (e.kind) {
    case EventKind::syn_rx:
        syns++;
        last_syn_ns = std::max(last_syn_ns, e.ts_ns);
        break;
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

namespace {

// How long after its first SYN a handshake may still complete: TCP's SYN retries span ~75 s.
constexpr uint64_t syn_retry_span_ns = 75'000'000'000ULL;

// The flow a handshake seen without its SYN completes (a DNAT: host :2222 -> container :22, the
// child socket in another netns with another port): the most recent SYN from the same client
// end that nothing has answered yet, sent before it and within TCP's retry span. A refused or
// dropped flow keeps its verdict: with CGNAT the same client end is reused for other connections.
// A RST that left on its way back (tx_rst) may be the target's own refusal: for a target's drop,
// a flow settled by that RST alone is still open.
FlowEvidence* dnat_origin(std::map<FlowKey, FlowEvidence>& flows, const FlowKey& key, uint64_t established_ns,
                          bool wire_rst_may_be_its_answer = false) {
    FlowEvidence* origin = nullptr;
    for (auto& [k, f] : flows) {
        bool open = !f.settled() || (wire_rst_may_be_its_answer && !f.settled(false));
        if (k.src != key.src || k.sport != key.sport || f.syns == 0 || !open) continue;
        bool timed = established_ns && f.first_ns;  // fixtures may carry no clock
        if (timed && (f.first_ns > established_ns || established_ns - f.first_ns > syn_retry_span_ns)) continue;
        if (!origin || f.first_ns > origin->first_ns) origin = &f;
    }
    return origin;
}

// The flow whose SYN a DNAT sent to `key`'s destination, as seen in the flow's own namespace (an
// nft trace verdict in FORWARD shows the packet with the new destination) or, watched too, in
// the target's (its own answers).
FlowEvidence* nat_alias(std::map<FlowKey, FlowEvidence>& flows, const FlowKey& key, bool in_target_netns = false) {
    for (auto& [k, f] : flows) {
        const bool where = in_target_netns ? f.nat_netns == key.netns && k.netns != key.netns : k.netns == key.netns;
        if (where && k.src == key.src && k.sport == key.sport && f.nat_dst && *f.nat_dst == key.dst &&
            f.nat_dport == key.dport)
            return &f;
    }
    return nullptr;
}

// A trace verdict that came before the drop telling the DNAT made a flow of its own: it joins.
void adopt_nat_orphan(std::map<FlowKey, FlowEvidence>& flows, FlowEvidence& f) {
    FlowKey alias{f.key.netns, f.key.src, *f.nat_dst, f.key.sport, f.nat_dport};
    auto orphan = flows.find(alias);
    if (orphan == flows.end() || orphan->second.syns != 0 || &orphan->second == &f) return;
    if (!f.inbound_rule) f.inbound_rule = orphan->second.inbound_rule;
    if (!f.outbound_rule) f.outbound_rule = orphan->second.outbound_rule;
    flows.erase(orphan);
}

// A forwarded SYN reaches its DNAT target within microseconds of its arrival here: a SYN of the
// same client end dropped elsewhere later than this is another connection (CGNAT reuses ends).
constexpr uint64_t forward_span_ns = 1'000'000'000ULL;

// An event about the client's SYN somewhere else than where the flow's SYN arrived: the DNAT
// target completed the handshake, or its kernel dropped the SYN (a container's sshd stopped),
// or, when the target's namespace is watched too (--all-netns), the SYN arrived there (the
// kernel marks it sent_on): one SYN, one flow. Not when the flow already knows another DNAT
// target (from conntrack), nor for a drop or an arrival long after the flow's last SYN.
FlowEvidence* join_dnat_target(std::map<FlowKey, FlowEvidence>& flows, const FlowKey& key, const Event& e) {
    const bool target_drop = e.kind == EventKind::drop && !e.outbound && !e.nat_dst && (e.tcp_flags & detail::tcp_syn);
    const bool sent_on = e.kind == EventKind::syn_rx && e.sent_on;
    if (e.kind != EventKind::established && !target_drop && !sent_on) return nullptr;
    FlowEvidence* origin = dnat_origin(flows, key, e.ts_ns, target_drop);
    if (!origin || (origin->key.dst == key.dst && origin->key.dport == key.dport)) return nullptr;
    if (origin->nat_dst && (*origin->nat_dst != key.dst || origin->nat_dport != key.dport)) return nullptr;
    const bool timed = e.ts_ns && origin->last_syn_ns;  // fixtures may carry no clock
    if ((target_drop || sent_on) && timed &&
        (e.ts_ns < origin->last_syn_ns || e.ts_ns - origin->last_syn_ns > forward_span_ns))
        return nullptr;
    if (!origin->nat_dst) {
        origin->nat_dst = key.dst;
        origin->nat_dport = key.dport;
    }
    if (key.netns != origin->key.netns) origin->nat_netns = key.netns;
    if (e.kind == EventKind::established) {
        origin->add(e);
        if (key.netns != origin->key.netns)
            origin->accepted_elsewhere = fmt::format("{} in netns {}", endpoint(key.dst, key.dport), key.netns);
    } else {
        if (target_drop && !origin->target_drop) origin->target_drop = e;
        origin->last_ns = std::max(origin->last_ns, e.ts_ns);
    }
    return origin;
}

// What the DNAT target's namespace sent back itself (its SYN-ACK or RST, seen when it is watched
// too): the flow the client addressed hears it where the client does, on its way back through
// the DNAT; the target's handshake, its kernel's drop and the SYN's arrival join through
// join_dnat_target.
FlowEvidence* dnat_target_answer(std::map<FlowKey, FlowEvidence>& flows, const FlowKey& key, const Event& e) {
    const bool answer = e.kind == EventKind::rst_sent || e.kind == EventKind::tx_rst || e.kind == EventKind::tx_synack ||
                        e.kind == EventKind::synack_retrans || e.kind == EventKind::icmp_sent;
    FlowEvidence* f = answer ? nat_alias(flows, key, true) : nullptr;
    if (f) f->last_ns = std::max(f->last_ns, e.ts_ns);
    return f;
}

}  // namespace

FlowEvidence* fold_event(std::map<FlowKey, FlowEvidence>& flows, const Event& e) {
    if (e.kind == EventKind::listen_change || e.kind == EventKind::process_exit) return nullptr;
    FlowKey key = FlowKey::of(e);
    auto exact = flows.find(key);
    if (exact == flows.end() || exact->second.syns == 0) {
        if (FlowEvidence* origin = dnat_target_answer(flows, key, e)) return origin;
        // Seen here with the destination a DNAT gave it (an nft trace verdict in FORWARD, the
        // handshake or a SYN-ACK retransmission of a DNAT to one of this namespace's addresses).
        // Not a SYN: one arriving with that tuple is a connection of its own.
        if (FlowEvidence* origin = e.kind == EventKind::syn_rx ? nullptr : nat_alias(flows, key)) {
            origin->add(e);
            return origin;
        }
        if (FlowEvidence* origin = join_dnat_target(flows, key, e)) return origin;
    }
    auto [it, inserted] = flows.try_emplace(key);
    if (inserted) it->second.key = key;
    FlowEvidence& f = it->second;
    f.add(e);
    if (e.nat_dst) adopt_nat_orphan(flows, f);
    return &f;
}

bool FlowEvidence::settled(bool count_wire_rst) const {
    const std::string target_reason = target_drop ? drop_meaning(*this, *target_drop).reason : "";
    const bool target_decided = target_reason == drop_reason::no_socket || target_reason == drop_reason::netfilter;
    return established || inbound_drop || outbound_drop || rst_by_tcp || (count_wire_rst && rst_on_wire) || icmp ||
           inbound_rule || target_decided;
}

const HostSnapshot* host_for(const std::vector<HostSnapshot>& hosts, uint32_t netns) {
    for (const auto& h : hosts)
        if (h.netns == netns) return &h;
    // One snapshot stands for the one watched netns (fixtures leave inodes 0). With several, a
    // flow from a namespace nobody took a snapshot of is judged on its events alone: another
    // namespace's listeners would give it a wrong cause.
    if (hosts.size() == 1 && (netns == 0 || hosts.front().netns == 0)) return &hosts.front();
    return nullptr;
}

bool address_of_host(const IpAddr& dst, const HostSnapshot* host) {
    if (!host || host->addresses.empty() || dst.is_loopback()) return true;  // unknown: keep it
    return std::find(host->addresses.begin(), host->addresses.end(), dst) != host->addresses.end();
}

bool addressed_here(const FlowEvidence& f, const HostSnapshot* host) {
    if (f.established || f.rst_by_tcp || !f.accepted_elsewhere.empty()) return true;  // the local stack answered
    // A DNAT sent it to one of this host's addresses (a VIP routed here): its own after all.
    return address_of_host(f.key.dst, host) || (f.nat_dst && !f.nat_netns && address_of_host(*f.nat_dst, host));
}

void attach_legacy_rule(FlowEvidence& f, const firewall::LegacyReadings& legacy, const HostSnapshot* host) {
    if (f.inbound_rule || !f.inbound_drop || drop_meaning(f, *f.inbound_drop).reason != drop_reason::netfilter) return;
    // A drop inside nft_do_chain is nftables'; anywhere else the legacy rule that fits this flow
    // and whose counter grew during the capture is the proof.
    if (firewall_backend(*f.inbound_drop) == "nftables") return;
    if (host && !host->iptables_legacy_present) return;
    // `-i` names the interface IP received the SYN on: the bridge or VLAN interface, not its port.
    std::string in_ifname = arrival_of(host ? host->interfaces : std::vector<Interface>{}, f.ifindex, f.ifname, f.vlan_id).ip_ifname;
    firewall::FlowMatch flow{f.key.src.family == Family::ipv4 ? "ip" : "ip6", f.key.src, f.key.dst,
                             f.key.sport, f.key.dport, in_ifname};
    f.inbound_rule = firewall::legacy_rule_for_flow(legacy.before, legacy.after, flow);
}

}  // namespace synwhy
