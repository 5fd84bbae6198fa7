#include "firewall/iptables_legacy.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "host/exec.h"

namespace synwhy::firewall {

namespace {

bool is_drop_target(const std::string& t) { return t == "DROP" || t == "REJECT"; }

std::string target_of(const std::string& rule_text) {
    auto pos = rule_text.find(" -j ");
    if (pos == std::string::npos) return "";
    std::istringstream in(rule_text.substr(pos + 4));
    std::string t;
    in >> t;
    return t;
}

std::string key(const LegacyRule& r) { return fmt::format("{}|{}|{}|{}", r.table, r.chain, r.num, r.text); }

enum class PortMatch { any, this_port, other_port };

// Whether a rule's --dport/--dports (single ports, "a:b" ranges, "a,b" lists) can match `port`.
// A rule naming only other ports cannot have dropped a SYN to it.
PortMatch port_match(const std::string& text, uint16_t port) {
    PortMatch result = PortMatch::any;
    for (const char* opt : {"--dport ", "--dports ", "--destination-port ", "--destination-ports "}) {
        for (size_t pos = text.find(opt); pos != std::string::npos; pos = text.find(opt, pos + 1)) {
            if (pos >= 2 && text.compare(pos - 2, 2, "! ") == 0) continue;  // negated: says nothing
            std::istringstream value(text.substr(pos + std::strlen(opt)));
            std::string list, item;
            value >> list;
            std::istringstream items(list);
            result = PortMatch::other_port;
            while (std::getline(items, item, ',')) {
                auto colon = item.find(':');
                unsigned long lo = std::strtoul(item.c_str(), nullptr, 10);
                unsigned long hi = colon == std::string::npos ? lo : std::strtoul(item.c_str() + colon + 1, nullptr, 10);
                if (colon != std::string::npos && colon == 0) lo = 0;
                if (colon != std::string::npos && colon + 1 == item.size()) hi = 65535;
                if (port >= lo && port <= hi) return PortMatch::this_port;
            }
        }
    }
    return result;
}

}  // namespace

std::vector<LegacyRule> parse_iptables_save(const std::string& text, const std::string& family) {
    std::vector<LegacyRule> out;
    std::map<std::string, uint32_t> position;  // chain -> rules seen
    std::string table;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == '*') {
            table = line.substr(1);
            position.clear();
            continue;
        }
        if (line[0] == ':') {  // ":INPUT DROP [12:720]"
            std::istringstream l(line.substr(1));
            std::string chain, policy, counters;
            l >> chain >> policy >> counters;
            if (policy == "-") continue;  // user chains have no policy
            LegacyRule r{family, table, chain, 0, 0, policy, fmt::format(":{} {}", chain, policy)};
            r.packets = std::strtoull(counters.c_str() + (counters.empty() ? 0 : 1), nullptr, 10);
            out.push_back(r);
            continue;
        }
        if (line[0] == '[') {  // "[3:180] -A INPUT ..."
            auto close = line.find("] ");
            if (close == std::string::npos) continue;
            std::string rule = line.substr(close + 2);
            if (rule.rfind("-A ", 0) != 0) continue;
            std::istringstream l(rule.substr(3));
            std::string chain;
            l >> chain;
            LegacyRule r{family, table, chain, ++position[chain], 0, target_of(rule), rule};
            r.packets = std::strtoull(line.c_str() + 1, nullptr, 10);
            out.push_back(r);
        }
    }
    return out;
}

std::optional<FirewallRule> attribute_legacy_drop(const std::vector<LegacyRule>& before,
                                                  const std::vector<LegacyRule>& after, uint16_t port) {
    std::map<std::string, uint64_t> was;
    for (const auto& r : before) was[key(r)] = r.packets;
    auto grew = [&](const LegacyRule& r) {
        auto it = was.find(key(r));
        return r.packets > (it == was.end() ? 0 : it->second);
    };
    // A dropping rule that grew and can match the port; one naming the port first, then any;
    // else a DROP policy that grew.
    const LegacyRule* hit = nullptr;
    for (const auto& r : after) {
        if (!r.num || !is_drop_target(r.target) || !grew(r)) continue;
        PortMatch m = port_match(r.text, port);
        if (m == PortMatch::other_port) continue;
        if (!hit || (m == PortMatch::this_port && port_match(hit->text, port) != PortMatch::this_port)) hit = &r;
    }
    if (!hit)
        for (const auto& r : after)
            if (!r.num && r.target == "DROP" && grew(r)) hit = &r;
    if (!hit) return std::nullopt;

    FirewallRule rule;
    rule.backend = "iptables-legacy";
    rule.family = hit->family;
    rule.table = hit->table;
    rule.chain = hit->chain;
    rule.rule_num = hit->num;
    rule.policy = hit->num == 0;
    rule.text = hit->text;
    rule.verdict = hit->target == "REJECT" ? "reject" : "drop";
    // Walk back up the jumps that grew and lead to this chain (bounded: chains can't loop in x_tables).
    std::string chain = hit->chain;
    for (int depth = 0; depth < 16; depth++) {
        const LegacyRule* from = nullptr;
        for (const auto& r : after)
            if (r.table == hit->table && r.num && r.target == chain && grew(r)) from = &r;
        if (!from) break;
        rule.path.insert(rule.path.begin(), from->chain);
        chain = from->chain;
    }
    return rule;
}

std::vector<LegacyRule> read_legacy_counters(const std::string& family, std::chrono::milliseconds timeout,
                                             std::string& error) {
    // x_tables lists the legacy tables loaded in this netns; none means no legacy rules at all.
    std::ifstream names(family == "ip6" ? "/proc/thread-self/net/ip6_tables_names" : "/proc/thread-self/net/ip_tables_names");
    std::string first;
    if (!names || !std::getline(names, first) || first.empty()) return {};
    std::string tool = family == "ip6" ? "ip6tables-legacy-save" : "iptables-legacy-save";
    for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/"}) {
        std::string path = std::string(dir) + tool;
        if (access(path.c_str(), X_OK) != 0) continue;
        auto res = host::run_program({path, "-c"}, timeout);
        if (!res.started || res.timed_out || res.exit_code != 0) {
            error = fmt::format("{} -c failed: {}", tool, res.timed_out ? "timed out" : res.error.empty() ? res.err : res.error);
            return {};
        }
        return parse_iptables_save(res.out, family);
    }
    error = fmt::format("legacy tables are loaded but {} is not installed", tool);
    return {};
}

}  // namespace synwhy::firewall
