// Who owns a firewall rule: the manager (ufw, firewalld, fail2ban, ...) that wrote it and will
// write it again, so its fix is said in that manager's own commands, and the raw nft/iptables
// command only where no manager owns the rule. A table of recognizers: adding a manager is adding
// an entry in rule_owners.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diagnosis/model.h"

namespace synwhy {

// What a rule is asked about: the rule, the watched port, the client it stopped, the host.
struct RuleQuery {
    const FirewallRule& rule;
    uint16_t port;
    const IpAddr& client;
    const HostSnapshot* host;  // nullptr when no snapshot is at hand
};

// A rule in its owner's terms.
struct RuleAdvice {
    std::string owner;    // the first owner's name, "" when no manager owns the rule
    // Who stops the SYNs and why, for the cause's summary ("ufw limit", "more than 5 new
    // connections from ... within 30 s"); "" keeps the generic words and the rule's description.
    std::string actor;
    std::string reason;
    std::vector<std::string> evidence;  // a ban's times, a rate limit, what the manager does with the rule
    std::vector<std::string> fix;       // the owner's commands; the raw one where no manager objects
};

struct RuleOwner {
    const char* name;  // "ufw", "fail2ban", ...
    // Whether this manager made the rule (host: nullptr when no snapshot is at hand).
    bool (*matches)(const FirewallRule& rule, const HostSnapshot* host);
    // The lines that are the same for every rule of this manager (nullptr: none): who stops the
    // SYNs, what the manager does with its rules, and the one thing to do (for the managers whose
    // rules are only looked at: where to look).
    const char* actor;
    const char* evidence;
    const char* fix;
    // The rest of the advice, worked out from the rule, the client and the host (nullptr where
    // the lines above say it all).
    void (*advise)(const RuleQuery& query, RuleAdvice& advice);
    // The rules are the administrator's own (Docker's DOCKER-USER): the raw nft/iptables command
    // may be printed first. Elsewhere the manager would put the rule back, or be bypassed, or
    // lose every other address it blocks.
    bool admin_owned;
};

// Every known manager, in the order they are asked: the first that claims a rule advises on it.
const std::vector<RuleOwner>& rule_owners();

// The managers that claim the rule (usually none or one), in that order.
std::vector<const RuleOwner*> owners_of(const FirewallRule& rule, const HostSnapshot* host = nullptr);

// The backend's own commands that remove the rule, or let the port through a chain's policy:
// nft for native tables, iptables for the tables iptables-nft or iptables-legacy made.
std::vector<std::string> raw_rule_fix(const FirewallRule& rule, uint16_t port);

// The rule in its first owner's terms (the raw commands alone when none owns it), with a plain
// rule's rate or connection limit said. rule_fix (diagnose.h) is its fix lines.
RuleAdvice rule_advice(const FirewallRule& rule, uint16_t port, const IpAddr& client, const HostSnapshot* host);

}  // namespace synwhy
