// Packets a firewall dropped or rejected, inbound (the SYN) or outbound (the reply). With the rule
// named (nft trace, legacy counters) the fix is that rule's; without, how to find it.
#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"
#include "diagnosis/owners/rule_owners.h"

namespace synwhy {

using namespace detail;

namespace {

// No trace and no counter named the rule: point at every backend this host has.
std::vector<std::string> find_rule_fix(const std::string& backend, const HostSnapshot* host, uint16_t port) {
    std::vector<std::string> fix;
    bool legacy = backend == "iptables-legacy" || (host && host->iptables_legacy_present);
    if (backend != "iptables-legacy") {
        fix.push_back(fmt::format("find the rule: nft -a list ruleset | grep -w 'dport {}'", port));
        // ufw is named only where it may be: a fix must not name what the host does not have.
        bool ufw = !host || has_manager(host, "ufw");
        fix.push_back(fmt::format("then delete it: nft delete rule FAMILY TABLE CHAIN handle N{}",
                                  ufw ? fmt::format(" (or, for ufw: ufw allow {}/tcp)", port) : ""));
    }
    if (legacy) {
        fix.push_back(fmt::format("find the rule: iptables-legacy -L -n -v --line-numbers | grep -w {} "
                                  "(and ip6tables-legacy for IPv6)", port));
        fix.push_back(fmt::format("then delete it (iptables-legacy -D CHAIN NUM) or insert an accept before it: "
                                  "iptables-legacy -I INPUT -p tcp --dport {} -j ACCEPT", port));
    }
    return fix;
}

// The rule is known by its chain only: show the chain with its counters, never guess a number.
std::vector<std::string> inspect_chain_fix(const FirewallRule& r, uint16_t port) {
    std::string tool = r.family == "ip6" ? "ip6tables-legacy" : "iptables-legacy";
    std::string table = r.table == "filter" ? "" : " -t " + r.table;
    return {fmt::format("find the rule: {}{} -L {} -v -n --line-numbers (the one whose packet count grows as the "
                        "client retries)", tool, table, r.chain),
            fmt::format("then delete it ({}{} -D {} NUM, NUM from that listing) or insert an accept before it: "
                        "{}{} -I INPUT -p tcp --dport {} -j ACCEPT", tool, table, r.chain, tool, table, port)};
}

// How many clients' own commands (unban, delete from a set) are listed; the rest are alike.
constexpr size_t clients_listed = 3;

// The rule in its owner's terms, for each client it stopped: a ban is lifted one address at a
// time, so each client gets its own lines (duplicates fold in build_cause).
RuleAdvice advice_for_clients(const CauseContext& ctx, const FirewallRule& rule) {
    std::vector<IpAddr> clients;
    for (const Flow* fl : ctx.flows)
        if (std::find(clients.begin(), clients.end(), fl->src) == clients.end()) clients.push_back(fl->src);
    if (clients.empty()) clients.push_back(IpAddr{});
    RuleAdvice advice = rule_advice(rule, ctx.port, clients.front(), ctx.host);
    for (size_t i = 1; i < clients.size() && i < clients_listed; i++) {
        RuleAdvice more = rule_advice(rule, ctx.port, clients[i], ctx.host);
        append(advice.evidence, more.evidence);
        append(advice.fix, more.fix);
    }
    bool per_client = std::any_of(advice.fix.begin(), advice.fix.end(), [&](const std::string& line) {
        return line.find(clients.front().str()) != std::string::npos;
    });
    if (per_client && clients.size() > clients_listed)
        advice.fix.push_back(fmt::format("and the same for the other {} clients (the first evidence line lists them)",
                                         clients.size() - clients_listed));
    return advice;
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
    if (rule_known_by_chain_only(*c.rule)) {
        c.summary = fmt::format("a firewall rule (iptables-legacy) {} SYNs to {}: {}", drop ? "drops" : "rejects",
                                ctx.target, describe_rule(*c.rule));
        c.fix = inspect_chain_fix(*c.rule, ctx.port);
        return c;
    }
    RuleAdvice advice = advice_for_clients(ctx, *c.rule);
    std::string actor = !advice.actor.empty() ? advice.actor
                        : fmt::format("{} ({})", c.rule->policy ? "a chain policy" : "a firewall rule", c.rule->backend);
    c.summary = fmt::format("{} {} SYNs to {}: {}", actor, drop ? "drops" : "rejects", ctx.target,
                            advice.reason.empty() ? describe_rule(*c.rule) : advice.reason);
    append(c.evidence, advice.evidence);
    c.fix = advice.fix;
    return c;
}

Cause build_reply_dropped(const CauseContext& ctx) {
    Cause c = ctx.start();
    c.summary = fmt::format("the answers from {} are dropped on the way out", ctx.target);
    ctx.add_details(c);
    c.rule = ctx.first_rule();
    if (c.rule) {
        c.summary += ": " + describe_rule(*c.rule);
        RuleAdvice advice = advice_for_clients(ctx, *c.rule);
        append(c.evidence, advice.evidence);
        c.fix = advice.fix;
    } else {
        c.fix.push_back(fmt::format("find the output rule: nft -a list ruleset | grep -w 'sport {}'", ctx.port));
    }
    return c;
}

}  // namespace synwhy
