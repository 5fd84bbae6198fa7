// The diagnosis as a whole: which flows are judged, grouped into causes, and the causes ranked.
// Flows: flows.cpp; one flow's verdict: classify.cpp; a cause's words and fix: causes/.
#include "diagnosis/diagnose.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "diagnosis/causes/causes.h"

namespace synwhy {

namespace {

// Lower is more important when two causes cover as many flows.
int severity(const std::string& code) {
    static const std::vector<std::string> order = {
        cause::firewall_drop,   cause::firewall_reject, cause::no_listener,          cause::sshd_failing,
        cause::not_sshd,        cause::listening_elsewhere, cause::bound_other_address, cause::other_netns,
        cause::dnat_refused,
        cause::reply_dropped,   cause::kernel_drop,     cause::listen_overflow,      cause::handshake_incomplete,
        cause::unanswered,      cause::not_arriving,    cause::accepted};
    auto it = std::find(order.begin(), order.end(), code);
    return static_cast<int>(it - order.begin());
}

// Flows known only from a reply or a state change, without an inbound SYN, are not attempts
// we watched (e.g. the capture started mid-handshake). SYNs to addresses that are not this
// namespace's pass through it (a router, a Docker or KVM host forwarding to its guests):
// counted apart, never diagnosed as this host's. Returns the flows to judge, oldest first.
std::vector<const FlowEvidence*> flows_to_judge(std::map<FlowKey, FlowEvidence>& flows, const DiagnosisInput& input,
                                                Diagnosis& d) {
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
    return kept;
}

// One cause per (code, namespace, port, rule): two ports refused for two reasons, or two
// rules dropping, are two causes with their own fix. kept[i] is the evidence of d.flows[i].
std::vector<Cause> group_causes(const Diagnosis& d, const std::vector<const FlowEvidence*>& kept,
                                const DiagnosisInput& input, uint16_t default_port) {
    using CauseKey = std::tuple<std::string, uint32_t, uint16_t, std::string>;
    std::map<CauseKey, std::pair<std::vector<const Flow*>, std::vector<const FlowEvidence*>>> groups;
    for (size_t i = 0; i < d.flows.size(); i++) {
        const Flow& fl = d.flows[i];
        auto& slot = groups[{fl.verdict, fl.netns, fl.dport, fl.rule ? describe_rule(*fl.rule) : ""}];
        slot.first.push_back(&fl);
        slot.second.push_back(kept[i]);
    }
    std::vector<Cause> causes;
    for (const auto& [key, group] : groups) {
        CauseContext ctx(std::get<0>(key), group.first, group.second, input.hosts, default_port, input.ports);
        ctx.at_start = host_for(input.hosts_at_start, std::get<1>(key));
        causes.push_back(build_cause(ctx));
    }
    return causes;
}

}  // namespace

Diagnosis diagnose(const DiagnosisInput& input) {
    Diagnosis d;
    std::map<FlowKey, FlowEvidence> flows;
    for (const Event& e : input.events) fold_event(flows, e);
    std::vector<const FlowEvidence*> kept = flows_to_judge(flows, input, d);
    for (const FlowEvidence* ev : kept)
        d.flows.push_back(classify(*ev, host_for(input.hosts, ev->key.netns), input.ports,
                                   host_for(input.hosts_at_start, ev->key.netns)));

    uint16_t default_port = input.ports.empty() ? 22 : input.ports.front();
    if (d.flows.empty()) {
        d.causes.push_back(build_cause(CauseContext(cause::not_arriving, {}, {}, input.hosts, default_port, input.ports)));
        explain_not_arriving(d.causes.back(), input, input.hosts.empty() ? nullptr : &input.hosts.front(),
                             default_port);
        return d;
    }
    d.causes = group_causes(d, kept, input, default_port);
    std::stable_sort(d.causes.begin(), d.causes.end(), [](const Cause& a, const Cause& b) {
        bool a_ok = a.code == cause::accepted, b_ok = b.code == cause::accepted;
        if (a_ok != b_ok) return b_ok;  // failures first, whatever their count
        if (a.flows != b.flows) return a.flows > b.flows;
        return severity(a.code) < severity(b.code);
    });
    return d;
}

}  // namespace synwhy
