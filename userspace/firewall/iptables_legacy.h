// iptables-legacy attribution. nft trace cannot see x_tables, so the rule is found from the
// per-rule packet counters (`iptables-legacy-save -c`) read before and after the capture: for each
// flow, the dropping rule on its path from INPUT whose match fits it and whose counter grew, with
// the jumps that led to it.
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

// Two readings of the counters (both families): what grew between them dropped packets then.
struct LegacyReadings {
    std::vector<LegacyRule> before, after;
};

// The SYN a rule's match is compared with.
struct FlowMatch {
    std::string family;  // ip or ip6
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    std::string ifname;  // the input interface; empty when not known
};

enum class MatchFit { fits, cannot_fit, unknown };

// Whether a rule's match (`-A CHAIN -p tcp -s 10.0.0.0/8 --dport 22 -j DROP`) fits the SYN:
// unknown for options it cannot evaluate (-m set, -m recent, ...), cannot_fit as soon as one
// option it can evaluate excludes the SYN.
MatchFit rule_fits(const std::string& rule_text, const FlowMatch& flow);

// The rule (or policy) that dropped the flow's SYN between two readings: in traversal order
// from INPUT, the first dropping rule that fits the flow and grew, when no rule of doubtful fit
// that grew comes before it. A rule of doubtful fit is named only when it is the one candidate
// that grew; with several, the rule names only the chain (rule_num 0, no text, not a policy).
// The policy only when no candidate grew and it did. nullopt when nothing on the path grew.
std::optional<FirewallRule> legacy_rule_for_flow(const std::vector<LegacyRule>& before,
                                                 const std::vector<LegacyRule>& after, const FlowMatch& flow);

// Reads the counters of the calling thread's netns (empty when no legacy table is loaded there).
std::vector<LegacyRule> read_legacy_counters(const std::string& family, std::chrono::milliseconds timeout,
                                             std::string& error);

}  // namespace synwhy::firewall
