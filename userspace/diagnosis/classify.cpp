// One flow's verdict: what its events, read against the host's state, say happened to its SYN.
// The checks run in order of proof: a completed handshake, then netfilter, then the TCP stack's
// refusal, then other drops and answers; the first that decides wins.
#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/describe.h"
#include "diagnosis/diagnose.h"
#include "diagnosis/drop_fallback.h"
#include "diagnosis/interfaces.h"
#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/ssh_units.h"

namespace synwhy {

namespace {

using namespace detail;

Flow flow_of(const FlowEvidence& f, const HostSnapshot* host) {
    Flow out;
    out.family = f.key.src.family;
    out.src = f.key.src;
    out.dst = f.key.dst;
    out.sport = f.key.sport;
    out.dport = f.key.dport;
    out.netns = f.key.netns;
    out.ifname = f.ifname;
    out.vlan_id = f.vlan_id;
    Arrival arrival = arrival_of(host ? host->interfaces : std::vector<Interface>{}, f.ifindex, f.ifname, f.vlan_id);
    out.bridge = arrival.bridge;
    out.ip_ifname = arrival.ip_ifname;
    out.nat_dst = f.nat_dst;
    out.nat_dport = f.nat_dport;
    out.nat_netns = f.nat_netns;
    out.first_ns = f.first_ns;
    out.last_ns = f.last_ns;
    out.syns = f.syns;
    return out;
}

// Who took the handshake decides whether TCP's success is sshd's: systemd's socket for an sshd
// that never starts, or another program on sshd's port, accept and then say nothing.
bool judge_accepted(const FlowEvidence& f, const HostSnapshot* host, const HostSnapshot* at_start,
                    const std::string& to, Flow& out) {
    if (!f.established) return false;
    out.verdict = cause::accepted;
    out.detail = fmt::format("handshake to {} completed", to);
    if (!f.accepted_elsewhere.empty()) {
        out.detail += ", followed through DNAT to " + f.accepted_elsewhere;
        return true;
    }
    ServedBy served = served_by(host, at_start, f.key.dst, f.key.dport);
    if (!served.listener) return true;
    const ListenerOwner& owner = served.owner;
    const Listener& l = *served.listener;
    std::string by = owner.kind == ListenerOwner::Kind::sshd
                         ? describe_listener(l)
                         : fmt::format("{} on {}", describe_owner(l, owner), endpoint(l.addr, l.port));
    if (owner.kind == ListenerOwner::Kind::ssh_server) by += fmt::format(" ({})", owner.description);
    SshUnits units = ssh_units_of(host);
    if (owner.kind == ListenerOwner::Kind::systemd_socket && owner.serves_sshd && ssh_service_failing(host, units)) {
        out.verdict = cause::sshd_failing;
        out.detail += fmt::format(" at {}, but {} fails to start: {}", by, units.service_id,
                                  why_ssh_service_fails(host, units));
        return true;
    }
    // Known SSH servers (dropbear, gitea, ...) answer SSH, and a socket unit we cannot place may
    // too: only a program outside the tables is said not to be sshd.
    bool unknown_program = owner.kind == ListenerOwner::Kind::other;
    if (unknown_program && sshd_expected_on(host ? host : at_start, f.key.dport)) {
        out.verdict = cause::not_sshd;
        out.detail += fmt::format(", accepted by {}, not sshd", by);
        return true;
    }
    out.detail += ", accepted by " + by;
    return true;
}

// Netfilter dropped the SYN (the kernel's reason, an inferred one, or the trace's rule).
void judge_netfilter_drop(const FlowEvidence& f, const HostSnapshot* host, Flow& out) {
    // A full conntrack table drops new connections inside netfilter too (NF_DROP from
    // nf_conntrack_in): no rule did it, so say so rather than blame the ruleset.
    if (f.inbound_drop && !f.inbound_rule && conntrack_nearly_full(host)) {
        out.verdict = cause::kernel_drop;
        out.detail = fmt::format("dropped by netfilter with no rule: the conntrack table is full ({}/{})",
                                 host->conntrack_count, host->conntrack_max);
        return;
    }
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
}

// The drop's reason where the kernel gave none, and the line saying how it was inferred.
DropMeaning inbound_meaning(const FlowEvidence& f) {
    return f.inbound_drop ? drop_meaning(f, *f.inbound_drop) : DropMeaning{};
}

void add_inference(Flow& out, const DropMeaning& drop) {
    if (!drop.inferred.empty()) out.detail += "; " + drop.inferred;
}

bool judge_netfilter(const FlowEvidence& f, const HostSnapshot* host, Flow& out) {
    DropMeaning drop = inbound_meaning(f);
    bool netfilter_drop = drop.reason == drop_reason::netfilter;
    if (!netfilter_drop && !f.inbound_rule) return false;
    judge_netfilter_drop(f, host, out);
    if (netfilter_drop) add_inference(out, drop);
    return true;
}

// The TCP stack refused the SYN: why nothing took it, from the listeners the host has.
void judge_refusal(const FlowEvidence& f, const HostSnapshot* host, const std::vector<uint16_t>& watched,
                   const std::string& to, Flow& out) {
    std::string why = f.rst_reason.empty() ? "" : fmt::format(" (reset reason {})", f.rst_reason);
    auto on_port = listeners_on(host, f.key.dport);
    bool any_accepts = std::any_of(on_port.begin(), on_port.end(),
                                   [&](const Listener* l) { return listener_accepts(*l, f.key.dst); });
    if (!on_port.empty() && !any_accepts) {
        out.verdict = cause::bound_other_address;
        out.detail = fmt::format("refused{}: {}", why, mismatch_reason(*on_port.front(), f.key.dst));
        return;
    }
    auto elsewhere = sshd_elsewhere(host, f.key.dport, watched);
    if (on_port.empty() && !elsewhere.empty()) {
        out.verdict = cause::listening_elsewhere;
        const Listener* l = elsewhere.front();
        ListenerOwner owner = owner_of(*l, host);
        out.detail = fmt::format("refused{}: nothing listens on :{}; {} listens on :{}", why, f.key.dport,
                                 owner.kind == ListenerOwner::Kind::sshd ? "sshd" : describe_owner(*l, owner), l->port);
        return;
    }
    auto foreign = foreign_on(host, f.key.dport);
    if (on_port.empty() && elsewhere.empty() && !foreign.empty()) {
        out.verdict = cause::other_netns;
        out.detail = fmt::format("refused{}: nothing listens on :{} here; {}", why, f.key.dport,
                                 describe_foreign(*foreign.front()));
        return;
    }
    out.verdict = cause::no_listener;
    out.detail = any_accepts
                     ? fmt::format("refused{}: no listener on {} when the SYN came (one listens now)", why, to)
                     : fmt::format("refused{}: nothing listens on {}", why, to);
}

bool judge_refused(const FlowEvidence& f, const HostSnapshot* host, const std::vector<uint16_t>& watched,
                   const std::string& to, Flow& out) {
    DropMeaning drop = inbound_meaning(f);
    if (!f.rst_by_tcp && !is_no_socket(drop.reason)) return false;
    judge_refusal(f, host, watched, to, out);
    if (!f.rst_by_tcp) add_inference(out, drop);  // tcp_send_reset said it itself
    return true;
}

// "reason IP_RPFILTER at ip_rcv_finish_core+0x1a"; a kernel without reasons gives the place only.
std::string reason_and_location(const Event& drop) {
    if (drop.reason.empty()) return fmt::format("at {} (this kernel gives no drop reason)", drop.location);
    return fmt::format("reason {} at {}", drop.reason, drop.location);
}

// A DNAT sent the SYN on and its target refused or dropped it: a container whose sshd is stopped
// (the drop in the container's netns), or a REDIRECT here to a port nothing listens on (the drop
// here carries the new destination). The cause is at the target, not at the port the client
// chose, whose own listeners are beside the point.
bool judge_dnat_target(const FlowEvidence& f, Flow& out) {
    // Here: the drop carries the DNAT's destination, or is seen with it (5.10 drops an IPv6 SYN
    // without its conntrack entry: the event has the new tuple only, and joined by it).
    const bool seen_after_dnat = f.inbound_drop && f.nat_dst && !f.nat_netns && f.inbound_drop->dst == *f.nat_dst &&
                                 f.inbound_drop->dport == f.nat_dport;
    const bool redirected_here = !f.target_drop && f.inbound_drop && (f.inbound_drop->nat_dst || seen_after_dnat);
    const Event* drop = f.target_drop ? &*f.target_drop : redirected_here ? &*f.inbound_drop : nullptr;
    if (!drop || !f.nat_dst) return false;
    DropMeaning meaning = drop_meaning(f, *drop);
    const bool refused = meaning.reason == drop_reason::no_socket;
    if (redirected_here && !refused) return false;  // netfilter's was judged before; others are kernel drops
    const std::string target = redirected_here
                                   ? fmt::format("{} in this namespace", endpoint(*f.nat_dst, f.nat_dport))
                                   : fmt::format("{} in netns {}", endpoint(*f.nat_dst, f.nat_dport), drop->netns);
    if (refused) {
        out.verdict = cause::dnat_refused;
        out.detail = fmt::format("sent by DNAT to {}, refused there: nothing listens on it", target);
    } else {
        out.verdict = cause::kernel_drop;
        out.detail = fmt::format("sent by DNAT to {}, dropped there by the kernel: {}", target, reason_and_location(*drop));
    }
    add_inference(out, meaning);
    return true;
}

bool judge_kernel_drop(const FlowEvidence& f, Flow& out) {
    // Once a SYN-ACK went out, a retransmitted SYN is answered again and then discarded by
    // tcp_v4_rcv/tcp_v6_rcv (NOT_SPECIFIED, or no reason before 5.17): the stack at work, not the cause.
    bool duplicate_syn_discarded = f.inbound_drop && f.synack_sent && (f.inbound_drop->tcp_flags & tcp_syn) &&
                                   !has_usable_reason(*f.inbound_drop);
    if (!f.inbound_drop || duplicate_syn_discarded) return false;
    out.verdict = cause::kernel_drop;
    out.detail = "dropped by the kernel: " + reason_and_location(*f.inbound_drop);
    return true;
}

bool judge_reply_dropped(const FlowEvidence& f, Flow& out) {
    if (!f.outbound_drop && !f.outbound_rule) return false;
    DropMeaning drop = f.outbound_drop ? drop_meaning(f, *f.outbound_drop) : DropMeaning{};
    bool netfilter = f.outbound_rule || drop.reason == drop_reason::netfilter;
    uint8_t flags = f.outbound_drop ? f.outbound_drop->tcp_flags : 0;
    out.verdict = netfilter ? cause::reply_dropped : cause::kernel_drop;
    out.rule = f.outbound_rule;
    out.detail = fmt::format("the reply ({}) was dropped on the way out: {}", (flags & tcp_rst) ? "RST" : "SYN-ACK",
                             f.outbound_rule ? "by nftables " + describe_rule(*f.outbound_rule)
                                             : reason_and_location(*f.outbound_drop));
    if (netfilter) add_inference(out, drop);
    return true;
}

// An answer left with no drop or refusal to explain it: an ICMP error, a RST, a SYN-ACK.
bool judge_answer_seen(const FlowEvidence& f, const HostSnapshot* host, const std::vector<uint16_t>& watched,
                       const std::string& to, Flow& out) {
    if (f.icmp) {
        out.verdict = cause::firewall_reject;
        out.detail = fmt::format("answered with {}", icmp_name(*f.icmp));
        return true;
    }
    if (f.rst_on_wire) {
        // A RST left with no reset event of TCP's and no rule named (a kernel without
        // tcp_send_reset for it, the packet-socket capture): TCP's refusal when no listener takes
        // the SYN, read against the listeners like one. When one does, TCP did not refuse it.
        auto on_port = listeners_on(host, f.key.dport);
        auto taker = std::find_if(on_port.begin(), on_port.end(),
                                  [&](const Listener* l) { return listener_accepts(*l, f.key.dst); });
        if (taker == on_port.end()) {
            judge_refusal(f, host, watched, to, out);
            out.detail += "; a RST left for the SYN (no TCP reset event: the refusal is inferred from it)";
            return true;
        }
        out.verdict = cause::firewall_reject;
        out.detail = fmt::format("answered with a TCP RST although {} takes it: not TCP's refusal; a firewall "
                                 "reject rule is the likely sender (no rule was named)",
                                 describe_listener(**taker));
        return true;
    }
    if (f.synack_sent) {
        out.verdict = cause::handshake_incomplete;
        out.detail = fmt::format("SYN-ACK sent{}, no ACK came back",
                                 f.synack_retransmits ? fmt::format(" and retransmitted {}x", f.synack_retransmits) : "");
        return true;
    }
    return false;
}

bool judge_queue_full(const FlowEvidence& f, const HostSnapshot* host, Flow& out) {
    for (const Listener* l : listeners_on(host, f.key.dport)) {
        if (listener_accepts(*l, f.key.dst) && l->backlog > 0 && l->accept_queue >= l->backlog) {
            out.verdict = cause::listen_overflow;
            out.detail = fmt::format("the accept queue of {} is full ({}/{})", describe_listener(*l),
                                     l->accept_queue, l->backlog);
            return true;
        }
    }
    return false;
}

}  // namespace

Flow classify(const FlowEvidence& f, const HostSnapshot* host, const std::vector<uint16_t>& watched,
              const HostSnapshot* at_start) {
    Flow out = flow_of(f, host);
    const std::string to = endpoint(f.key.dst, f.key.dport);
    if (judge_accepted(f, host, at_start, to, out) || judge_netfilter(f, host, out) || judge_dnat_target(f, out) ||
        judge_refused(f, host, watched, to, out) ||
        judge_kernel_drop(f, out) || judge_reply_dropped(f, out) || judge_answer_seen(f, host, watched, to, out) ||
        judge_queue_full(f, host, out))
        return out;
    out.verdict = cause::unanswered;
    out.detail = "the SYN arrived; no answer and no drop were seen";
    return out;
}

}  // namespace synwhy
