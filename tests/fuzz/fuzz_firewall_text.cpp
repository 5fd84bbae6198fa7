// Firewall tools' text: `iptables-legacy-save -c` (parse_iptables_save, then legacy_rule_for_flow
// between two readings) and `nft -a list chain` (rules_by_handle, rule_comment).
// First byte: which one (modulo 3); the rest is the text. For attribution the text holds the
// reading before and the reading after, separated by the first NUL byte.
#include "firewall/iptables_legacy.h"
#include "firewall/nft_trace.h"
#include "fuzz_common.h"

using namespace synwhy;
using namespace synwhy::firewall;

namespace {

void check_rules(const std::vector<LegacyRule>& rules, const std::string& family) {
    for (const auto& r : rules) {
        FUZZ_CHECK(r.family == family);
        if (r.num == 0) FUZZ_CHECK(r.text == ":" + r.chain + " " + r.target);
        else FUZZ_CHECK(r.text.rfind("-A ", 0) == 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text = fuzz::rest_as_text(data, size);
    switch (data[0] % 3) {
    case 0: {
        auto nul = text.find('\0');
        std::string before_text = nul == std::string::npos ? "" : text.substr(0, nul);
        std::string after_text = nul == std::string::npos ? text : text.substr(nul + 1);
        auto before = parse_iptables_save(before_text, "ip");
        auto after = parse_iptables_save(after_text, "ip");
        check_rules(before, "ip");
        check_rules(after, "ip");
        // A SYN from a fixed client to both ports, with and without the interface known.
        for (uint16_t port : {uint16_t(22), uint16_t(2222)}) {
            for (const char* ifname : {"", "eth0"}) {
                FlowMatch flow{"ip", IpAddr::parse("192.0.2.1").value(), IpAddr::parse("192.0.2.2").value(), 40000,
                               port, ifname};
                for (const auto& r : after) (void)rule_fits(r.text, flow);
                auto rule = legacy_rule_for_flow(before, after, flow);
                if (!rule) continue;
                FUZZ_CHECK(rule->backend == "iptables-legacy" && rule->family == "ip");
                FUZZ_CHECK(rule->verdict == "drop" || rule->verdict == "reject");
                FUZZ_CHECK(rule->path.size() <= 16);
                // A named rule is one of the text's; a rule known by its chain only names none.
                if (rule->policy || rule->rule_num == 0)
                    FUZZ_CHECK(rule->text.empty() || rule->policy);
                else
                    FUZZ_CHECK(after_text.find(rule->text) != std::string::npos);
            }
        }
        break;
    }
    case 1: {
        auto rules = rules_by_handle(text);
        for (const auto& [handle, rule_text] : rules) {
            FUZZ_CHECK(handle != 0);
            std::string comment = rule_comment(rule_text);
            FUZZ_CHECK(comment.size() <= rule_text.size());
        }
        break;
    }
    case 2: {
        std::string comment = rule_comment(text);
        FUZZ_CHECK(comment.size() <= text.size());
        if (text.find("comment \"") == std::string::npos) FUZZ_CHECK(comment.empty());
        break;
    }
    }
    return 0;
}
