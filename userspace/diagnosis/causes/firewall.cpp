// Packets a firewall dropped or rejected, inbound (the SYN) or outbound (the reply). With the rule
// named (nft trace, legacy counters) the fix is that rule's; without, how to find it.
#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"

namespace synwhy {

using namespace detail;

namespace {

// No trace and no counter named the rule: point at every backend this host has.
std::vector<std::string> find_rule_fix(const std::string& backend, const HostSnapshot* host, uint16_t port) {
    std::vector<std::string> fix;
    bool legacy = backend == "iptables-legacy" || (host && host->iptables_legacy_present);
    if (backend != "iptables-legacy") {
        fix.push_back(fmt::format("find the rule: nft -a list ruleset | grep -w 'dport {}'", port));
        fix.push_back("then delete it: nft delete rule FAMILY TABLE CHAIN handle N "
                      "(or, for ufw: ufw allow " + std::to_string(port) + "/tcp)");
    }
    if (legacy) {
        fix.push_back(fmt::format("find the rule: iptables-legacy -L -n -v --line-numbers | grep -w {} "
                                  "(and ip6tables-legacy for IPv6)", port));
        fix.push_back(fmt::format("then delete it (iptables-legacy -D CHAIN NUM) or insert an accept before it: "
                                  "iptables-legacy -I INPUT -p tcp --dport {} -j ACCEPT", port));
    }
    return fix;
}

}  // namespace

Cause build_firewall_block(const CauseContext& ctx) {
    Cause c = ctx.start();
    bool drop = ctx.code == cause::firewall_drop;
    std::string backend = "netfilter";
    for (const FlowEvidence* e : ctx.evidence)
        if (e->inbound_drop) {
            backend = firewall_backend(*e->inbound_drop);
            break;
        }
    c.summary = fmt::format("a firewall rule ({}) {} SYNs to {}", backend, drop ? "drops" : "rejects", ctx.target);
    ctx.add_details(c);
    if (drop) c.evidence.push_back("the client sees a timeout: it retransmits the SYN and gives up");
    append(c.evidence, listener_evidence(ctx.host, ctx.port));
    c.rule = ctx.first_rule();
    if (!c.rule) {
        c.fix = find_rule_fix(backend, ctx.host, ctx.port);
        return c;
    }
    c.summary = fmt::format("{} ({}) {} SYNs to {}: {}", c.rule->policy ? "a chain policy" : "a firewall rule",
                            c.rule->backend, drop ? "drops" : "rejects", ctx.target, describe_rule(*c.rule));
    c.fix = rule_fix(*c.rule, ctx.port);
    return c;
}

Cause build_reply_dropped(const CauseContext& ctx) {
    Cause c = ctx.start();
    c.summary = fmt::format("the answers from {} are dropped on the way out", ctx.target);
    ctx.add_details(c);
    c.rule = ctx.first_rule();
    if (c.rule) {
        c.summary += ": " + describe_rule(*c.rule);
        c.fix = rule_fix(*c.rule, ctx.port);
    } else {
        c.fix.push_back(fmt::format("find the output rule: nft -a list ruleset | grep -w 'sport {}'", ctx.port));
    }
    return c;
}

}  // namespace synwhy
