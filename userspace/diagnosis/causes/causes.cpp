#include "diagnosis/causes/causes.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "diagnosis/describe.h"

namespace synwhy {

using detail::join;
using detail::plural;

CauseContext::CauseContext(const std::string& code, const std::vector<const Flow*>& flows,
                           const std::vector<const FlowEvidence*>& evidence, const std::vector<HostSnapshot>& hosts,
                           uint16_t default_port, const std::vector<uint16_t>& watched)
    : code(code), flows(flows), evidence(evidence), watched(watched) {
    first = flows.empty() ? nullptr : flows.front();
    host = first ? host_for(hosts, first->netns) : hosts.empty() ? nullptr : &hosts.front();
    port = first ? first->dport : default_port;
    std::set<std::string> client_set, targets;
    for (const Flow* fl : flows) {
        syns += fl->syns;
        client_set.insert(fl->src.str());
        targets.insert(endpoint(fl->dst, fl->dport));
    }
    clients.assign(client_set.begin(), client_set.end());
    target = join(std::vector<std::string>(targets.begin(), targets.end()), ", ");
}

Cause CauseContext::start() const {
    Cause c;
    c.code = code;
    c.flows = static_cast<uint32_t>(flows.size());
    if (first)
        c.evidence.push_back(fmt::format("{} from {} to {} ({} flow{})", plural(syns, "SYN", "SYNs"), join(clients, ", "),
                                         target, flows.size(), flows.size() == 1 ? "" : "s"));
    return c;
}

void CauseContext::add_details(Cause& c) const {
    std::set<std::string> seen;
    for (const Flow* fl : flows)
        if (seen.insert(fl->detail).second && seen.size() <= 3) c.evidence.push_back(fl->detail);
}

std::optional<FirewallRule> CauseContext::first_rule() const {
    for (const Flow* fl : flows)
        if (fl->rule) return fl->rule;
    return std::nullopt;
}

const std::map<std::string_view, CauseBuilder>& cause_builders() {
    static const std::map<std::string_view, CauseBuilder> table = {
        {cause::accepted, build_accepted},
        {cause::no_listener, build_no_listener},
        {cause::listening_elsewhere, build_listening_elsewhere},
        {cause::bound_other_address, build_bound_other_address},
        {cause::other_netns, build_other_netns},
        {cause::dnat_refused, build_dnat_refused},
        {cause::firewall_drop, build_firewall_block},
        {cause::firewall_reject, build_firewall_block},
        {cause::reply_dropped, build_reply_dropped},
        {cause::not_arriving, build_not_arriving},
        {cause::kernel_drop, build_kernel_drop},
        {cause::handshake_incomplete, build_handshake_incomplete},
        {cause::listen_overflow, build_listen_overflow},
        {cause::sshd_failing, build_sshd_failing},
        {cause::not_sshd, build_not_sshd},
        {cause::unanswered, build_unanswered},
    };
    return table;
}

namespace {

void dedupe(std::vector<std::string>& lines) {
    std::set<std::string> seen;
    lines.erase(std::remove_if(lines.begin(), lines.end(), [&](const std::string& l) { return !seen.insert(l).second; }),
                lines.end());
}

}  // namespace

Cause build_cause(const CauseContext& ctx) {
    auto it = cause_builders().find(ctx.code);
    Cause c = it != cause_builders().end() ? it->second(ctx) : build_unanswered(ctx);
    // One line per fact and per command, however many listeners (v4 and v6) led to it.
    dedupe(c.evidence);
    dedupe(c.fix);
    return c;
}

}  // namespace synwhy
