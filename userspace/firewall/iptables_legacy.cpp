#include "firewall/iptables_legacy.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "host/exec.h"

namespace synwhy::firewall {

namespace {

bool is_drop_target(const std::string& t) { return t == "DROP" || t == "REJECT"; }

// The words of a rule as iptables-save quotes them: --comment "two words" is one word.
std::vector<std::string> words_of(const std::string& text) {
    std::vector<std::string> words;
    std::string word;
    bool quoted = false, in_word = false;
    for (size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (quoted && c == '\\' && i + 1 < text.size()) {
            word += text[++i];
        } else if (c == '"') {
            quoted = !quoted;
            in_word = true;
        } else if (c == ' ' && !quoted) {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(word);
    return words;
}

// The target of `-j T` or `-g T` (a goto leaves the chain for T as well).
std::string target_of(const std::string& rule_text) {
    auto words = words_of(rule_text);
    for (size_t i = 0; i + 1 < words.size(); i++)
        if (words[i] == "-j" || words[i] == "--jump" || words[i] == "-g" || words[i] == "--goto") return words[i + 1];
    return "";
}

MatchFit negated(MatchFit fit, bool negate) {
    if (!negate || fit == MatchFit::unknown) return fit;
    return fit == MatchFit::fits ? MatchFit::cannot_fit : MatchFit::fits;
}

MatchFit fit_if(bool fits) { return fits ? MatchFit::fits : MatchFit::cannot_fit; }

// "-p tcp": the SYN is TCP.
MatchFit protocol_fit(const std::string& proto) {
    return fit_if(proto == "tcp" || proto == "6" || proto == "all" || proto == "0");
}

// "-s 10.0.0.0/8", "-d 192.0.2.2/32", "-s 10.0.0.0/255.0.0.0".
MatchFit address_fit(const std::string& value, const IpAddr& addr) {
    auto slash = value.find('/');
    auto net = IpAddr::parse(value.substr(0, slash));
    if (!net || net->family != addr.family) return MatchFit::unknown;
    const size_t len = addr.family == Family::ipv4 ? 4 : 16;
    std::array<uint8_t, 16> mask{};
    if (slash == std::string::npos) {
        std::fill(mask.begin(), mask.begin() + len, 0xff);
    } else if (auto dotted = IpAddr::parse(value.substr(slash + 1))) {
        if (dotted->family != addr.family) return MatchFit::unknown;
        mask = dotted->bytes;
    } else {
        char* end = nullptr;
        unsigned long bits = std::strtoul(value.c_str() + slash + 1, &end, 10);
        if (*end || bits > len * 8) return MatchFit::unknown;
        for (size_t i = 0; i < len; i++) {
            unsigned long bits_in_byte = bits > 8 * i ? std::min(bits - 8 * i, 8UL) : 0;
            mask[i] = uint8_t(0xff00 >> bits_in_byte);
        }
    }
    for (size_t i = 0; i < len; i++)
        if ((net->bytes[i] & mask[i]) != (addr.bytes[i] & mask[i])) return MatchFit::cannot_fit;
    return MatchFit::fits;
}

// "-i eth0", "-i veth+" (a trailing + matches every name it begins).
MatchFit interface_fit(const std::string& pattern, const std::string& ifname) {
    if (ifname.empty()) return MatchFit::unknown;
    if (!pattern.empty() && pattern.back() == '+') return fit_if(ifname.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0);
    return fit_if(ifname == pattern);
}

// "22", "20:25", ":1023", "1024:", and comma lists of those (multiport).
MatchFit port_fit(const std::string& list, uint16_t port) {
    std::istringstream items(list);
    std::string item;
    while (std::getline(items, item, ',')) {
        auto colon = item.find(':');
        unsigned long lo = colon == 0 ? 0 : std::strtoul(item.c_str(), nullptr, 10);
        unsigned long hi = colon == std::string::npos ? lo
                           : colon + 1 == item.size() ? 65535
                                                      : std::strtoul(item.c_str() + colon + 1, nullptr, 10);
        if (port >= lo && port <= hi) return MatchFit::fits;
    }
    return MatchFit::cannot_fit;
}

// "--tcp-flags FIN,SYN,RST,ACK SYN": of the flags in the mask, the SYN has SYN set, no other.
MatchFit syn_flags_fit(const std::string& mask, const std::string& set) {
    auto flags_of = [](const std::string& list) {
        std::set<std::string> flags;
        if (list == "ALL") return std::set<std::string>{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
        std::istringstream in(list);
        std::string f;
        while (std::getline(in, f, ','))
            if (f != "NONE") flags.insert(f);
        return flags;
    };
    std::set<std::string> syn_seen_through_mask;
    if (flags_of(mask).count("SYN")) syn_seen_through_mask.insert("SYN");
    return fit_if(flags_of(set) == syn_seen_through_mask);
}

// "--ctstate NEW", "--state NEW,ESTABLISHED": a SYN that opens a flow is NEW. A list without NEW
// of only ESTABLISHED/RELATED cannot hold it; INVALID or UNTRACKED might.
MatchFit ctstate_fit(const std::string& states) {
    std::istringstream in(states);
    std::string s;
    bool settled_only = true;
    while (std::getline(in, s, ',')) {
        if (s == "NEW") return MatchFit::fits;
        if (s != "ESTABLISHED" && s != "RELATED") settled_only = false;
    }
    return settled_only ? MatchFit::cannot_fit : MatchFit::unknown;
}

// The modules whose options rule_fits reads; any other module makes the match unknown.
bool module_understood(const std::string& m) {
    return m == "tcp" || m == "multiport" || m == "conntrack" || m == "state" || m == "comment";
}

// The worse of two fits: every option of a rule must fit, one that cannot decides.
MatchFit both(MatchFit a, MatchFit b) {
    if (a == MatchFit::cannot_fit || b == MatchFit::cannot_fit) return MatchFit::cannot_fit;
    return a == MatchFit::unknown || b == MatchFit::unknown ? MatchFit::unknown : MatchFit::fits;
}

// The counters of one rule in the two readings are matched by table, chain and text (and the
// how-many-th such rule): a rule inserted between readings shifts the numbers, not the texts.
using RuleKey = std::tuple<std::string, std::string, std::string, int>;

std::map<RuleKey, uint64_t> packets_by_key(const std::vector<LegacyRule>& rules, const std::string& family,
                                           std::map<const LegacyRule*, RuleKey>* keys = nullptr) {
    std::map<RuleKey, uint64_t> out;
    std::map<std::tuple<std::string, std::string, std::string>, int> seen;
    for (const auto& r : rules) {
        if (r.family != family) continue;
        RuleKey k{r.table, r.chain, r.text, seen[{r.table, r.chain, r.text}]++};
        out[k] = r.packets;
        if (keys) (*keys)[&r] = k;
    }
    return out;
}

// Jumps followed from INPUT, at most: the walk's work (and its recursion) stays bounded
// whatever the ruleset text holds.
constexpr size_t max_jump_depth = 16;

// A dropping rule (or policy) on the flow's path from INPUT, in the order the packet meets them.
struct Candidate {
    const LegacyRule* rule;
    std::vector<std::string> path;  // chains jumped through, base chain first
    MatchFit fit;                   // of the rule and every jump that led to it
};

class PathWalker {
public:
    PathWalker(const std::vector<LegacyRule>& rules, const FlowMatch& flow) : flow_(flow) {
        for (const auto& r : rules) {
            if (r.family != flow.family) continue;
            if (r.num)
                rules_of_[{r.table, r.chain}].push_back(&r);
            else
                policy_of_[{r.table, r.chain}] = &r;
        }
    }

    std::vector<Candidate> walk() {
        // LOCAL_IN runs mangle, then filter, then security.
        for (const char* table : {"mangle", "filter", "security"}) {
            auto policy = policy_of_.find({table, "INPUT"});
            if (policy == policy_of_.end()) continue;  // the table is not loaded
            visit(table, "INPUT", {}, MatchFit::fits);
            if (policy->second->target == "DROP") out_.push_back({policy->second, {}, MatchFit::fits});
        }
        return std::move(out_);
    }

private:
    using ChainKey = std::pair<std::string, std::string>;  // table, chain

    void visit(const std::string& table, const std::string& chain, const std::vector<std::string>& path, MatchFit via) {
        // A chain reached again adds nothing the SYN meets first, unless now reached for certain.
        auto [seen, first_time] = visited_.try_emplace({table, chain}, via);
        if (!first_time && !(via == MatchFit::fits && seen->second != MatchFit::fits)) return;
        seen->second = via;
        auto rules = rules_of_.find({table, chain});
        if (rules == rules_of_.end()) return;
        for (const LegacyRule* r : rules->second) {
            MatchFit fit = both(via, rule_fits(r->text, flow_));
            if (fit == MatchFit::cannot_fit) continue;
            if (is_drop_target(r->target)) {
                out_.push_back({r, path, fit});
            } else if (rules_of_.count({table, r->target}) && path.size() + 1 < max_jump_depth) {
                auto deeper = path;
                deeper.push_back(chain);
                visit(table, r->target, deeper, fit);
            }
        }
    }

    const FlowMatch& flow_;
    std::map<ChainKey, std::vector<const LegacyRule*>> rules_of_;   // in chain order
    std::map<ChainKey, const LegacyRule*> policy_of_;               // built-in chains: their policy line
    std::map<ChainKey, MatchFit> visited_;
    std::vector<Candidate> out_;
};

FirewallRule rule_of(const Candidate& c) {
    FirewallRule rule;
    rule.backend = "iptables-legacy";
    rule.family = c.rule->family;
    rule.table = c.rule->table;
    rule.chain = c.rule->chain;
    rule.path = c.path;
    rule.rule_num = c.rule->num;
    rule.policy = c.rule->num == 0;
    rule.text = c.rule->text;
    rule.verdict = c.rule->target == "REJECT" ? "reject" : "drop";
    return rule;
}

// Several rules could have dropped the SYN: name only the chain they share (else the table's
// INPUT), never one of them.
FirewallRule unnamed_rule_among(const std::vector<const Candidate*>& doubtful) {
    const Candidate& first = *doubtful.front();
    bool same_chain = std::all_of(doubtful.begin(), doubtful.end(), [&](const Candidate* c) {
        return c->rule->table == first.rule->table && c->rule->chain == first.rule->chain && c->path == first.path;
    });
    bool all_reject = std::all_of(doubtful.begin(), doubtful.end(), [](const Candidate* c) {
        return c->rule->target == "REJECT";
    });
    FirewallRule rule;
    rule.backend = "iptables-legacy";
    rule.family = first.rule->family;
    rule.table = first.rule->table;
    rule.chain = same_chain ? first.rule->chain : "INPUT";
    if (same_chain) rule.path = first.path;
    rule.verdict = all_reject ? "reject" : "drop";
    return rule;
}

}  // namespace

MatchFit rule_fits(const std::string& rule_text, const FlowMatch& flow) {
    auto words = words_of(rule_text);
    MatchFit fit = MatchFit::fits;
    bool negate = false;
    size_t i = words.size() >= 2 && words[0] == "-A" ? 2 : 0;
    auto value = [&](size_t at) { return at < words.size() ? words[at] : std::string(); };
    for (; i < words.size(); i++) {
        const std::string& w = words[i];
        if (w == "-j" || w == "--jump" || w == "-g" || w == "--goto") break;  // the target's options follow
        if (w == "!") {
            negate = true;
            continue;
        }
        MatchFit one = MatchFit::unknown;
        size_t args = 1;
        if (w == "-p" || w == "--protocol") {
            one = protocol_fit(value(i + 1));
        } else if (w == "-s" || w == "--source") {
            one = address_fit(value(i + 1), flow.src);
        } else if (w == "-d" || w == "--destination") {
            one = address_fit(value(i + 1), flow.dst);
        } else if (w == "-i" || w == "--in-interface") {
            one = interface_fit(value(i + 1), flow.ifname);
        } else if (w == "-f" || w == "--fragment") {
            one = MatchFit::cannot_fit;  // a SYN is never a later fragment
            args = 0;
        } else if (w == "-m" || w == "--match") {
            one = module_understood(value(i + 1)) ? MatchFit::fits : MatchFit::unknown;
        } else if (w == "--dport" || w == "--destination-port" || w == "--dports" || w == "--destination-ports") {
            one = port_fit(value(i + 1), flow.dport);
        } else if (w == "--sport" || w == "--source-port" || w == "--sports" || w == "--source-ports") {
            one = port_fit(value(i + 1), flow.sport);
        } else if (w == "--ports") {
            one = fit_if(port_fit(value(i + 1), flow.dport) == MatchFit::fits ||
                         port_fit(value(i + 1), flow.sport) == MatchFit::fits);  // either end
        } else if (w == "--syn") {
            one = MatchFit::fits;
            args = 0;
        } else if (w == "--tcp-flags") {
            one = syn_flags_fit(value(i + 1), value(i + 2));
            args = 2;
        } else if (w == "--ctstate" || w == "--state") {
            one = ctstate_fit(value(i + 1));
        } else if (w == "--comment") {
            one = MatchFit::fits;
        } else {
            // An option this does not read (-o, --match-set, --limit, ...): skip its values.
            args = 0;
            while (i + args + 1 < words.size() && words[i + args + 1][0] != '-' && words[i + args + 1] != "!") args++;
        }
        fit = both(fit, negated(one, negate));
        negate = false;
        i += args;
    }
    return fit;
}

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

std::optional<FirewallRule> legacy_rule_for_flow(const std::vector<LegacyRule>& before,
                                                 const std::vector<LegacyRule>& after, const FlowMatch& flow) {
    auto was = packets_by_key(before, flow.family);
    std::map<const LegacyRule*, RuleKey> keys;
    packets_by_key(after, flow.family, &keys);
    auto grew = [&](const LegacyRule& r) {
        auto it = was.find(keys.at(&r));
        return r.packets > (it == was.end() ? 0 : it->second);
    };
    std::vector<const Candidate*> doubtful;  // grew, but may not fit the flow
    const Candidate* policy = nullptr;
    auto candidates = PathWalker(after, flow).walk();
    for (const auto& c : candidates) {
        if (!grew(*c.rule)) continue;
        if (c.rule->num == 0) {
            if (!policy) policy = &c;
            continue;
        }
        if (c.fit == MatchFit::fits && doubtful.empty()) return rule_of(c);  // the first the SYN meets
        doubtful.push_back(&c);
        if (c.fit == MatchFit::fits) break;  // nothing after it sees the flow's SYN
    }
    if (doubtful.empty()) {
        if (policy) return rule_of(*policy);  // the SYN fell through to it
        return std::nullopt;
    }
    if (doubtful.size() == 1 && !policy) return rule_of(*doubtful.front());  // the only one that grew
    if (policy) doubtful.push_back(policy);  // the SYN may also have fallen through to it
    return unnamed_rule_among(doubtful);
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
