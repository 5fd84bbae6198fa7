// iptables-legacy attribution. nft trace cannot see x_tables, so the rule is found from the
// per-rule packet counters (`iptables-legacy-save -c`) read before and after the capture: the
// dropping rule whose counter grew, with the jumps that led to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diagnosis/model.h"

namespace synwhy::firewall {

struct LegacyRule {
    std::string family;   // ip or ip6
    std::string table;
    std::string chain;
    uint32_t num = 0;     // 1-based position in the chain; 0 for the chain's policy line
    uint64_t packets = 0;
    std::string target;   // DROP, REJECT, ACCEPT, a user chain, or the policy
    std::string text;     // "-A INPUT -p tcp -m tcp --dport 22 -j DROP" (policy: ":INPUT DROP")
};

// Parses `iptables-save -c` output.
std::vector<LegacyRule> parse_iptables_save(const std::string& text, const std::string& family);

// The rule (or policy) that dropped packets to `port` between two readings, or nullopt.
std::optional<FirewallRule> attribute_legacy_drop(const std::vector<LegacyRule>& before,
                                                  const std::vector<LegacyRule>& after, uint16_t port);

// Reads the counters of the calling thread's netns (empty when no legacy table is loaded there).
std::vector<LegacyRule> read_legacy_counters(const std::string& family, std::chrono::milliseconds timeout,
                                             std::string& error);

}  // namespace synwhy::firewall
