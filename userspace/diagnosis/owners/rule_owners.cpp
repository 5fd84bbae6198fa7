#include "diagnosis/owners/rule_owners.h"

#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/diagnose.h"

namespace synwhy {

namespace {

bool starts_with_ufw(const std::string& chain) { return chain.rfind("ufw", 0) == 0; }

// ufw's chains are all ufw-* (ufw6-* for IPv6), whether the rule is in one or jumped through one.
bool made_by_ufw(const FirewallRule& r, const HostSnapshot*) {
    return starts_with_ufw(r.chain) || std::any_of(r.path.begin(), r.path.end(), starts_with_ufw);
}

std::vector<std::string> ufw_fix(const FirewallRule&, uint16_t port) {
    return {fmt::format("ufw allow {}/tcp", port)};
}

bool made_by_firewalld(const FirewallRule& r, const HostSnapshot*) { return r.table == "firewalld"; }

std::vector<std::string> firewalld_fix(const FirewallRule&, uint16_t) {
    return {"firewall-cmd --add-service=ssh --permanent && firewall-cmd --reload"};
}

}  // namespace

const std::vector<RuleOwner>& rule_owners() {
    static const std::vector<RuleOwner> table = {
        {"ufw", made_by_ufw, ufw_fix, true, nullptr},
        {"firewalld", made_by_firewalld, firewalld_fix, true, nullptr},
    };
    return table;
}

std::vector<const RuleOwner*> owners_of(const FirewallRule& r, const HostSnapshot* host) {
    std::vector<const RuleOwner*> out;
    for (const auto& owner : rule_owners())
        if (owner.matches(r, host)) out.push_back(&owner);
    return out;
}

std::string raw_rule_fix(const FirewallRule& r, uint16_t port) {
    if (r.backend == "iptables-legacy") {
        std::string tool = r.family == "ip6" ? "ip6tables-legacy" : "iptables-legacy";
        if (r.policy) return fmt::format("{} -t {} -I {} -p tcp --dport {} -j ACCEPT", tool, r.table, r.chain, port);
        return fmt::format("{} -t {} -D {} {}", tool, r.table, r.chain, r.rule_num);
    }
    if (r.policy) return fmt::format("nft insert rule {} {} {} tcp dport {} accept", r.family, r.table, r.chain, port);
    return fmt::format("nft delete rule {} {} {} handle {}", r.family, r.table, r.chain, r.handle);
}

// The owners' commands first, then the backend's own while every owner allows it.
std::vector<std::string> rule_fix(const FirewallRule& r, uint16_t port) {
    std::vector<std::string> fix;
    bool raw_safe = true;
    for (const RuleOwner* owner : owners_of(r)) {
        auto lines = owner->fix(r, port);
        fix.insert(fix.end(), lines.begin(), lines.end());
        raw_safe = raw_safe && owner->raw_fix_safe;
    }
    if (raw_safe) fix.push_back(raw_rule_fix(r, port));
    return fix;
}

}  // namespace synwhy
