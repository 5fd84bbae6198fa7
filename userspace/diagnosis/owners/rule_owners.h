// Who owns a firewall rule: the front-end (ufw, firewalld, ...) that wrote it and will write it
// again, so its fix is said in that front-end's terms. A table of recognizers: adding a manager
// is adding an entry in rule_owners.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diagnosis/model.h"

namespace synwhy {

struct RuleOwner {
    const char* name;  // "ufw", "firewalld"
    // Whether this manager made the rule (host: nullptr when no snapshot is at hand).
    bool (*matches)(const FirewallRule& rule, const HostSnapshot* host);
    // The owner's own commands that let the port through.
    std::vector<std::string> (*fix)(const FirewallRule& rule, uint16_t port);
    // Whether the raw nft/iptables command may be printed beside the owner's fix (false where
    // the manager would fight it or put the rule back).
    bool raw_fix_safe;
    // One line about the rule in the owner's terms ("a ban: it ends by itself after 10m"), or
    // nullptr when the owner has nothing to add.
    std::string (*note)(const FirewallRule& rule, const HostSnapshot* host);
};

// Every known manager, in the order their fixes are printed.
const std::vector<RuleOwner>& rule_owners();

// The managers that claim the rule (usually none or one).
std::vector<const RuleOwner*> owners_of(const FirewallRule& rule, const HostSnapshot* host = nullptr);

// The backend's own command that removes the rule, or lets the port through a chain's policy.
std::string raw_rule_fix(const FirewallRule& rule, uint16_t port);

}  // namespace synwhy
