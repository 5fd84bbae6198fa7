#include "diagnosis/owners/rule_owners.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "diagnosis/describe.h"
#include "diagnosis/diagnose.h"

namespace synwhy {

namespace {

using detail::contains;
using detail::has_manager;

// Whether the rule is in a chain that `is_theirs` recognises, or was reached through one.
template <typename Pred>
bool in_or_via(const FirewallRule& r, Pred is_theirs) {
    return is_theirs(r.chain) || std::any_of(r.path.begin(), r.path.end(), is_theirs);
}

bool is_v6(const FirewallRule& r, const IpAddr& client) {
    return r.family == "ip6" || (r.family != "ip" && client.family == Family::ipv6);
}

// The iptables command that edits a chain the rule lives in: iptables-nft's tables show up in
// nft trace as nftables, x_tables as iptables-legacy.
std::string iptables_tool(const FirewallRule& r, const IpAddr& client) {
    std::string tool = is_v6(r, client) ? "ip6tables" : "iptables";
    return r.backend == "iptables-legacy" ? tool + "-legacy" : tool;
}

// A table iptables-nft made: one of iptables' tables in family ip/ip6, entered by one of its
// upper-case base chains. nft rules added to it are not iptables' (iptables-save then calls the
// table incompatible, and the next iptables-restore drops them): it is edited with iptables.
bool made_by_iptables_nft(const FirewallRule& r) {
    static const std::vector<std::string_view> tables = {"filter", "nat", "mangle", "raw", "security"};
    static const std::vector<std::string_view> base_chains = {"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"};
    const std::string& base = r.path.empty() ? r.chain : r.path.front();
    return r.backend == "nftables" && (r.family == "ip" || r.family == "ip6") &&
           std::find(tables.begin(), tables.end(), r.table) != tables.end() &&
           std::find(base_chains.begin(), base_chains.end(), base) != base_chains.end();
}

// The command that lists the rule's chain, as its backend prints it.
std::string list_chain_command(const FirewallRule& r) {
    if (r.backend == "iptables-legacy" || made_by_iptables_nft(r)) {
        std::string tool = iptables_tool(r, IpAddr{});
        return r.table == "filter" ? fmt::format("{} -S {}", tool, r.chain)
                                   : fmt::format("{} -t {} -S {}", tool, r.table, r.chain);
    }
    return fmt::format("nft list chain {} {} {}", r.family, r.table, r.chain);
}

// The source address or prefix the rule matches ("203.0.113.1", "203.0.113.0/24"): nft's
// "saddr X", iptables' "-s X". "" when it names none, or a set, or negates it.
std::string rule_source(const std::string& text) {
    size_t begin = std::string::npos;
    if (size_t at = text.find("saddr "); at != std::string::npos) {
        begin = at + 6;
    } else if (text.starts_with("-s ")) {
        begin = 3;
    } else if (size_t at = text.find(" -s "); at != std::string::npos && (at == 0 || text[at - 1] != '!')) {
        begin = at + 4;
    }
    if (begin >= text.size()) return "";
    std::string source = text.substr(begin, text.find(' ', begin) - begin);
    if (source.empty() || source == "!=" || source[0] == '@' || source[0] == '{' || source[0] == '$') return "";
    for (std::string_view host_len : {"/32", "/128"})
        if (source.ends_with(host_len)) source.resize(source.size() - host_len.size());
    return source;
}

const Ban* fail2ban_ban(const HostSnapshot* host, const IpAddr& client, const std::string& jail) {
    if (!host) return nullptr;
    for (const Ban& b : host->bans)
        if (b.manager == "fail2ban" && b.addr == client && (jail.empty() || b.jail == jail)) return &b;
    return nullptr;
}

void fail2ban_advice(const RuleQuery& q, RuleAdvice& a);

// ---- ufw ----

bool is_ufw_chain(const std::string& c) { return c.starts_with("ufw-") || c.starts_with("ufw6-"); }
bool is_ufw_limit_chain(const std::string& c) { return c == "ufw-user-limit" || c == "ufw6-user-limit"; }

// ufw sets the INPUT policy of table filter itself (DEFAULT_INPUT_POLICY="DROP"), so that policy
// is ufw's where ufw is enabled.
bool ufw_policy(const FirewallRule& r, const HostSnapshot* host) {
    return r.policy && r.table == "filter" && r.chain == "INPUT" && (r.family == "ip" || r.family == "ip6") &&
           has_manager(host, "ufw");
}

bool made_by_ufw(const FirewallRule& r, const HostSnapshot* host) {
    return !is_ufw_limit_chain(r.chain) && (in_or_via(r, is_ufw_chain) || ufw_policy(r, host));
}

// The ufw chain the rule is in: its own, else the last one it came through (a chain of the
// administrator's, jumped to from before.rules).
std::string ufw_chain_of(const FirewallRule& r) {
    if (is_ufw_chain(r.chain)) return r.chain;
    for (auto it = r.path.rbegin(); it != r.path.rend(); ++it)
        if (is_ufw_chain(*it)) return *it;
    return "";
}

// The file of ufw's own rules (not `ufw allow`'s) that holds a chain: /etc/ufw/before.rules for
// ufw-before-input (ct invalid, ufw-not-local, ICMP), after.rules for ufw-after-input; "" else.
std::string ufw_rules_file(const std::string& chain) {
    if (!is_ufw_chain(chain)) return "";
    bool v6 = chain.starts_with("ufw6-");
    std::string name = chain.substr(v6 ? 5 : 4);
    if (name == "before-input" || name == "not-local") return v6 ? "/etc/ufw/before6.rules" : "/etc/ufw/before.rules";
    if (name == "after-input") return v6 ? "/etc/ufw/after6.rules" : "/etc/ufw/after.rules";
    return "";
}

// A user rule that names a source (`ufw deny from X`, or fail2ban's banaction=ufw): it sits above
// any allow, so `ufw allow` would change nothing.
void ufw_source_deny_advice(const RuleQuery& q, const std::string& source, RuleAdvice& a) {
    if (fail2ban_ban(q.host, q.client, "")) {
        fail2ban_advice(q, a);
        a.evidence.push_back("fail2ban bans through ufw here (banaction = ufw): the ban is a ufw deny rule, "
                             "and fail2ban would add it again if it were deleted by hand");
        return;
    }
    a.reason = fmt::format("a ufw rule denies {}", source);
    a.fix.push_back(fmt::format("find the rule: ufw status numbered (a deny from {})", source));
    a.fix.push_back("then: ufw delete NUM");
}

void ufw_advice(const RuleQuery& q, RuleAdvice& a) {
    const FirewallRule& r = q.rule;
    a.actor = "ufw";
    std::string chain = ufw_chain_of(r);
    if (r.policy) {
        a.reason = fmt::format("its default incoming policy is deny ({})", describe_rule(r));
    } else if (chain.ends_with("-user-input")) {
        if (std::string source = rule_source(r.text); !source.empty()) {
            ufw_source_deny_advice(q, source, a);
            return;
        }
    } else if (std::string file = ufw_rules_file(chain); !file.empty()) {
        // ufw's own rules come before the user's: an allow never reaches them.
        a.evidence.push_back(fmt::format("the rule is one of ufw's own ({}, chain {}), not one that ufw allow/deny "
                                         "writes", file, chain));
        a.fix.push_back(fmt::format("see {} (the rule in {} that drops it), change it there, then: ufw reload", file, chain));
        return;
    }
    // `ufw allow` replaces a deny of the same port in place, not a deny of another shape.
    a.fix.push_back(fmt::format("ufw allow {}/tcp", q.port));
    if (chain.ends_with("-user-input"))
        a.fix.push_back("if a ufw deny rule still matches the client: ufw status numbered, then ufw delete NUM");
}

// `ufw limit PORT/tcp`: its user rules send the 6th new connection from one address within 30 s
// (-m recent --seconds 30 --hitcount 6, fixed in ufw) to ufw-user-limit, which rejects it.
bool made_by_ufw_limit(const FirewallRule& r, const HostSnapshot*) { return is_ufw_limit_chain(r.chain); }

void ufw_limit_advice(const RuleQuery& q, RuleAdvice& a) {
    a.reason = fmt::format("more than 5 new connections from {} within 30 s (a rate limit)", q.client.str());
    a.fix.push_back(fmt::format("or lift the limit for port {0}: ufw delete limit {0}/tcp && ufw allow {0}/tcp", q.port));
}

// ---- firewalld: table inet firewalld (nftables backend), or chains of table filter (iptables backend) ----

// FirewallBackend=iptables: INPUT jumps to INPUT_direct and INPUT_ZONES, which goes to IN_<zone>.
bool is_firewalld_iptables_entry(const std::string& c) {
    return c == "INPUT_ZONES" || c == "INPUT_ZONES_SOURCE" || c == "INPUT_direct";
}

bool made_by_firewalld(const FirewallRule& r, const HostSnapshot* host) {
    if (r.table.starts_with("firewalld")) return true;
    if (r.table != "filter") return false;
    return in_or_via(r, is_firewalld_iptables_entry) || (r.chain.starts_with("IN_") && has_manager(host, "firewalld"));
}

// The zone of a chain [filter_]IN_<zone>[_allow|_deny|_pre|_post|_log], "" for another chain
// (IN_policy_* are policies, not zones).
std::string zone_of_chain(const std::string& chain) {
    std::string prefix = chain.starts_with("filter_IN_") ? "filter_IN_" : "IN_";
    if (!chain.starts_with(prefix) || chain.starts_with(prefix + "policy_")) return "";
    std::string zone = chain.substr(prefix.size());
    for (const char* suffix : {"_allow", "_deny", "_pre", "_post", "_log"})
        if (zone.ends_with(suffix) && zone.size() > std::string_view(suffix).size()) {
            zone.resize(zone.size() - std::string_view(suffix).size());
            break;
        }
    return zone;
}

// The zone the rule belongs to: its own chain's, else the nearest zone chain it came through.
std::string firewalld_zone(const FirewallRule& r) {
    std::string zone = zone_of_chain(r.chain);
    for (auto it = r.path.rbegin(); zone.empty() && it != r.path.rend(); ++it) zone = zone_of_chain(*it);
    return zone;
}

void firewalld_advice(const RuleQuery& q, RuleAdvice& a) {
    const FirewallRule& r = q.rule;
    std::string zone = firewalld_zone(r);
    a.actor = zone.empty() ? "firewalld" : fmt::format("firewalld (zone {})", zone);
    a.evidence.push_back("firewalld writes its rules again on every reload: change its configuration, not the rule");
    if (r.table == "firewalld_policy_drop") {
        a.reason = "it drops everything while in panic mode or while it starts";
        a.fix.push_back("see whether panic mode is on: firewall-cmd --query-panic; if so: firewall-cmd --panic-off");
        return;
    }
    if (r.chain == "INPUT_direct") {
        // A direct rule: the administrator's own, kept by firewalld.
        a.fix.push_back("find the direct rule: firewall-cmd --permanent --direct --get-all-rules");
        a.fix.push_back("then firewall-cmd --permanent --direct --remove-rule RULE && firewall-cmd --reload");
        return;
    }
    std::string zone_arg = zone.empty() ? "ZONE" : zone;
    if (r.chain.ends_with("_deny")) {
        // A rich rule (or a source block) of the zone denies it: adding the port would not help.
        a.fix.push_back(fmt::format("find the rule that denies it: firewall-cmd --zone={} --list-rich-rules", zone_arg));
        a.fix.push_back(fmt::format("then firewall-cmd --permanent --zone={} --remove-rich-rule='RULE' && firewall-cmd --reload",
                                    zone_arg));
        return;
    }
    if (!zone.empty() && (r.chain == "filter_IN_" + zone || r.chain == "IN_" + zone) && !contains(r.text, "dport"))
        a.reason = fmt::format("zone {} does not allow {}/tcp", zone, q.port);
    std::string allow = q.port == 22 ? "--add-service=ssh" : fmt::format("--add-port={}/tcp", q.port);
    if (zone.empty()) a.fix.push_back("find the zone: firewall-cmd --get-active-zones");
    a.fix.push_back(fmt::format("firewall-cmd --permanent --zone={} {} && firewall-cmd --reload", zone_arg, allow));
}

// ---- fail2ban: inet f2b-table (nftables banaction) or f2b-<jail> chains (iptables banactions) ----

bool is_f2b_jail_chain(const std::string& c) { return c.starts_with("f2b-") && c != "f2b-chain"; }

bool made_by_fail2ban(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "f2b-table" || in_or_via(r, is_f2b_jail_chain);
}

// The jail: from the set the rule matches (@addr-set-sshd, @addr6-set-sshd), the chain
// (f2b-sshd), else the ban fail2ban reports for the client.
std::string fail2ban_jail(const RuleQuery& q) {
    for (std::string_view set : {"@addr-set-", "@addr6-set-"}) {
        auto at = q.rule.text.find(set);
        if (at == std::string::npos) continue;
        auto begin = at + set.size();
        auto end = q.rule.text.find_first_of(" ,}", begin);
        return q.rule.text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    }
    if (is_f2b_jail_chain(q.rule.chain)) return q.rule.chain.substr(4);
    for (auto it = q.rule.path.rbegin(); it != q.rule.path.rend(); ++it)
        if (is_f2b_jail_chain(*it)) return it->substr(4);
    const Ban* ban = fail2ban_ban(q.host, q.client, "");
    return ban ? ban->jail : "";
}

std::string fail2ban_ban_line(const Ban* ban, const std::string& jail, const std::string& client) {
    if (ban && ban->since_s && ban->until_s > ban->since_s)
        return fmt::format("fail2ban jail {} banned {} at {} for {} s, until {}", ban->jail, client,
                           detail::clock_time(ban->since_s), ban->until_s - ban->since_s, detail::clock_time(ban->until_s));
    std::string jail_arg = jail.empty() ? "JAIL" : jail;
    if (ban)
        return fmt::format("fail2ban jail {} lists {} as banned: the ban ends after the jail's bantime "
                           "(fail2ban-client get {} bantime)", ban->jail, client, jail_arg);
    return fmt::format("a fail2ban ban: it ends after the jail's bantime (fail2ban-client get {} bantime)", jail_arg);
}

void fail2ban_advice(const RuleQuery& q, RuleAdvice& a) {
    std::string jail = fail2ban_jail(q), client = q.client.str();
    a.actor = jail.empty() ? "a fail2ban ban" : fmt::format("a fail2ban ban (jail {})", jail);
    a.reason = fmt::format("{} is banned", client);
    a.evidence.push_back(fail2ban_ban_line(fail2ban_ban(q.host, q.client, jail), jail, client));
    // Deleting the rule would unban every address of the jail, and fail2ban adds it back.
    if (jail.empty()) {
        a.fix.push_back(fmt::format("find the jail: fail2ban-client banned {}", client));
        jail = "JAIL";
    }
    a.fix.push_back(fmt::format("fail2ban-client set {} unbanip {}", jail, client));
    // The runtime command adds to ignoreip; an `ignoreip = X` line in jail.local would replace the
    // default 127.0.0.1/8 ::1. The client may be the attacker: only for an address of one's own.
    a.fix.push_back(fmt::format("if {0} is yours, keep fail2ban from banning it again: fail2ban-client set {1} addignoreip {0} "
                                "(and append it to ignoreip in /etc/fail2ban/jail.local to keep it)", client, jail));
}

// ---- sshguard: tables ip/ip6 sshguard (nft backend), a chain sshguard (iptables backend), or
// sets sshguard4/sshguard6 (ipset and firewalld backends) ----

bool names_sshguard_set(const std::string& text) { return contains(text, "sshguard4") || contains(text, "sshguard6"); }

bool made_by_sshguard(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "sshguard" || names_sshguard_set(r.text) ||
           in_or_via(r, [](const std::string& c) { return c == "sshguard"; });
}

// sshguard blocks CLIENT/IPV4_SUBNET (IPV6_SUBNET): 32 and 128 by default, a wider prefix where
// configured, and then the client's own address is not in the set.
std::string sshguard_prefix_note(const std::string& list_command) {
    return fmt::format("if that fails, sshguard blocked a wider prefix (IPV4_SUBNET/IPV6_SUBNET): {}, "
                       "and delete the prefix that holds the client", list_command);
}

void sshguard_advice(const RuleQuery& q, RuleAdvice& a) {
    const FirewallRule& r = q.rule;
    std::string client = q.client.str();
    bool v6 = is_v6(r, q.client);
    a.reason = fmt::format("it blocks {} (a temporary ban)", client);
    if (r.table == "sshguard") {
        const char* family = v6 ? "ip6" : "ip";
        a.fix.push_back(fmt::format("nft delete element {} sshguard attackers {{ {} }}", family, client));
        a.fix.push_back(sshguard_prefix_note(fmt::format("nft list set {} sshguard attackers", family)));
    } else if (names_sshguard_set(r.text)) {
        std::string set = v6 ? "sshguard6" : "sshguard4";
        if (has_manager(q.host, "firewalld")) {
            a.fix.push_back(fmt::format("find its entry: firewall-cmd --ipset={} --get-entries", set));
            a.fix.push_back(fmt::format("then: firewall-cmd --ipset={} --remove-entry=ENTRY (the one that holds {})", set, client));
        } else {
            a.fix.push_back(fmt::format("ipset del {} {}", set, client));
            a.fix.push_back(sshguard_prefix_note(fmt::format("ipset list {}", set)));
        }
    } else {
        // One rule per block: the rule itself names the prefix.
        std::string source = rule_source(r.text);
        std::string tool = iptables_tool(r, q.client);
        std::string prefix = source.empty() ? client : source;
        if (prefix.find('/') == std::string::npos) prefix += v6 ? "/128" : "/32";
        a.fix.push_back(fmt::format("{} -D sshguard -s {} -j DROP", tool, prefix));
        if (source.empty()) a.fix.push_back(sshguard_prefix_note(fmt::format("{} -S sshguard", tool)));
    }
    a.fix.push_back(fmt::format("if {} is yours, keep sshguard from blocking it again: add it to sshguard's WHITELIST_FILE "
                                "(Debian: /etc/sshguard/whitelist), then systemctl restart sshguard", client));
}

// ---- CrowdSec's firewall bouncer: tables crowdsec/crowdsec6 or iptables CROWDSEC_CHAIN ----

bool made_by_crowdsec(const FirewallRule& r, const HostSnapshot*) {
    return r.table.starts_with("crowdsec") || contains(r.text, "crowdsec-blacklists") ||
           in_or_via(r, [](const std::string& c) { return c.starts_with("crowdsec-chain") || c == "CROWDSEC_CHAIN"; });
}

// Whether CrowdSec's agent (not only its bouncer) runs here: decisions live in the agent's LAPI,
// which may be another host's.
bool crowdsec_agent_here(const HostSnapshot* host) {
    return host && std::any_of(host->firewall_managers.begin(), host->firewall_managers.end(), [](const FirewallManager& m) {
               return m.name == "crowdsec" && !contains(m.detail, "bouncer");
           });
}

void crowdsec_advice(const RuleQuery& q, RuleAdvice& a) {
    std::string client = q.client.str();
    a.reason = fmt::format("a decision bans {}", client);
    a.evidence.push_back(fmt::format("a CrowdSec ban (a decision) lasts until the decision expires: "
                                     "cscli decisions list --ip {} shows when, and its origin", client));
    a.evidence.push_back("a decision from a blocklist (origin CAPI or lists) comes back at the next blocklist pull "
                         "when deleted");
    // The bouncer re-adds what is deleted from its sets while the decision stands.
    std::string delete_decision = fmt::format("cscli decisions delete --ip {}", client);
    if (crowdsec_agent_here(q.host)) {
        a.fix.push_back(delete_decision);
        return;
    }
    if (has_manager(q.host, "crowdsec"))
        a.evidence.push_back("CrowdSec's bouncer runs here: it asks the LAPI named by api_url in "
                             "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml");
    a.fix.push_back("on the host that runs the CrowdSec agent/LAPI (here if crowdsec runs): " + delete_decision);
}

// ---- Docker, Podman ----

bool made_by_docker_user(const FirewallRule& r, const HostSnapshot*) { return r.chain == "DOCKER-USER"; }

bool made_by_docker(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "docker-bridges" || r.chain == "DOCKER" ||
           (r.chain.starts_with("DOCKER-") && r.chain != "DOCKER-USER");
}

// Docker's chains that are not about published ports: what each one is.
struct DockerChain {
    std::string_view prefix;
    std::string_view what;
};
constexpr DockerChain docker_chains[] = {
    {"DOCKER-ISOLATION", "the isolation between Docker networks: it drops traffic from one network to another"},
    {"DOCKER-INTERNAL", "an internal network's (--internal): no traffic in or out"},
    {"DOCKER-CT", "its connection tracking of container traffic"},
    {"DOCKER-INGRESS", "swarm's ingress routing mesh"},
};

void docker_advice(const RuleQuery& q, RuleAdvice& a) {
    for (const DockerChain& chain : docker_chains)
        if (q.rule.chain.starts_with(chain.prefix)) {
            a.fix.push_back(fmt::format("Docker's chain {} drops it ({}), not a port to publish: inspect the networks: "
                                        "docker network ls; docker network inspect NETWORK", q.rule.chain, chain.what));
            return;
        }
    a.fix.push_back("Docker manages this chain: publish the port (docker run -p) or check docker network/ps "
                    "(docker ps; docker network inspect NETWORK)");
}

bool made_by_netavark(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "netavark" || in_or_via(r, [](const std::string& c) { return c.starts_with("NETAVARK"); });
}

// ---- Tailscale: ts-input / ts-forward, in iptables' tables or nft's ip filter ----

bool made_by_tailscale(const FirewallRule& r, const HostSnapshot*) {
    return in_or_via(r, [](const std::string& c) { return c == "ts-input" || c == "ts-forward"; });
}

bool in_tailscale_range(const IpAddr& a) {  // 100.64.0.0/10
    return a.family == Family::ipv4 && a.bytes[0] == 100 && (a.bytes[1] & 0xc0) == 64;
}

// Turning tailscaled's rules off (--netfilter-mode=off) would drop its anti-spoofing rule too:
// only looked at.
void tailscale_advice(const RuleQuery& q, RuleAdvice& a) {
    if (in_tailscale_range(q.client))
        a.reason = fmt::format("{} is in Tailscale's range 100.64.0.0/10 but did not come in on tailscale0", q.client.str());
    a.fix.push_back(fmt::format("see tailscaled's rules (it puts them back if edited): {}", list_chain_command(q.rule)));
}

// ---- Kubernetes: kube-proxy, Calico, Cilium rewrite their chains continuously ----

bool made_by_kube_proxy(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "kube-proxy" || in_or_via(r, [](const std::string& c) { return c.starts_with("KUBE-"); });
}

bool made_by_calico(const FirewallRule& r, const HostSnapshot*) {
    return r.table.starts_with("calico") || in_or_via(r, [](const std::string& c) { return c.starts_with("cali-"); });
}

void calico_failsafe_advice(const RuleQuery& q, RuleAdvice& a) {
    if (q.port == 22)
        a.fix.push_back("Calico's failsafe ports include 22 by default: see whether they were changed: "
                        "calicoctl get felixconfiguration default -o yaml (failsafeInboundHostPorts)");
}

bool made_by_cilium(const FirewallRule& r, const HostSnapshot*) {
    return contains(r.table, "cilium") || in_or_via(r, [](const std::string& c) { return c.starts_with("CILIUM_"); });
}

// ---- limits in a plain rule ----

// The words of the rule from `at` up to its verdict or counter: "limit rate over 3/minute".
std::string phrase_at(const std::string& text, size_t at) {
    static const std::vector<std::string_view> stops = {" drop", " reject", " accept", " counter", " log", " jump",
                                                        " goto", " return", " queue", " -j "};
    size_t end = text.size();
    for (auto stop : stops) end = std::min(end, text.find(stop, at));
    return text.substr(at, end - at);
}

// A rule that drops only over a rate or a count says so: the client gets in again by itself.
std::string limit_evidence(const FirewallRule& r) {
    const std::string& t = r.text;
    if (auto at = t.find("meter "); at != std::string::npos)
        return fmt::format("a per-address rate limit ({}): the client gets through again once it opens new connections "
                           "more slowly; deleting the rule lifts the limit for everybody", phrase_at(t, at));
    if (auto at = t.find("ct count"); at != std::string::npos)
        return fmt::format("a connection limit ({}): new connections are dropped while that many are open; "
                           "they get through again once some close", phrase_at(t, at));
    if (auto at = t.find("limit rate"); at != std::string::npos)
        return fmt::format("a rate limit ({}): it drops only what exceeds the rate; the client gets through again "
                           "once it slows down", phrase_at(t, at));
    if (contains(t, "-m recent") || contains(t, "\"recent\""))
        return "a rate limit (-m recent): new connections over its hit count are dropped until the client stays "
               "away for its --seconds";
    if (contains(t, "-m connlimit") || contains(t, "\"connlimit\""))
        return "a connection limit (-m connlimit): new connections are dropped while that many are open";
    if (contains(t, "-m limit") || contains(t, "-m hashlimit") || contains(t, "\"hashlimit\""))
        return "a rate limit (-m limit/hashlimit): it drops only what exceeds the rate";
    return "";
}

}  // namespace

const std::vector<RuleOwner>& rule_owners() {
    // Ban managers first: their rule names the client, the others' the port.
    static const std::vector<RuleOwner> table = {
        {"fail2ban", made_by_fail2ban, nullptr, nullptr, nullptr, fail2ban_advice, false},
        {"sshguard", made_by_sshguard, "sshguard", "sshguard blocks for BLOCK_TIME (120 s at first, longer for repeat offenders)",
         nullptr, sshguard_advice, false},
        {"crowdsec", made_by_crowdsec, "CrowdSec", nullptr, nullptr, crowdsec_advice, false},
        {"ufw limit", made_by_ufw_limit, "ufw limit",
         "ufw limit: a client's 6th new connection within 30 s is rejected, and every one after it until the client "
         "stays away for 30 s",
         "wait 30 s: ufw limit forgets a client 30 s after its last new connection (it rejects the 6th within 30 s)",
         ufw_limit_advice, false},
        {"ufw", made_by_ufw, nullptr, nullptr, nullptr, ufw_advice, false},
        {"firewalld", made_by_firewalld, nullptr, nullptr, nullptr, firewalld_advice, false},
        {"docker-user", made_by_docker_user, nullptr,
         "DOCKER-USER holds the administrator's own rules: Docker creates it and never rewrites it",
         "and remove the rule from whatever adds it at boot (Docker does not save DOCKER-USER)", nullptr, true},
        {"docker", made_by_docker, "Docker",
         "Docker writes its chains from its containers and networks, and rewrites them: not a rule to delete", nullptr,
         docker_advice, false},
        {"netavark", made_by_netavark, "netavark (Podman)",
         "netavark (Podman) writes this table from its networks and published ports, and rewrites it: not a rule to delete",
         "see the published ports: podman port --all; podman network ls", nullptr, false},
        {"tailscale", made_by_tailscale, "tailscaled",
         "tailscaled made this rule and puts it back: it drops packets from Tailscale's range 100.64.0.0/10 that do not "
         "come in on tailscale0 (against spoofing); a client with such an address on another network (a carrier-grade "
         "NAT) is dropped",
         "connect over the tailnet: ssh to this host's Tailscale address (tailscale status; tailscale ip)",
         tailscale_advice, false},
        {"kube-proxy", made_by_kube_proxy, "kube-proxy",
         "kube-proxy writes these rules from the cluster's Services and rewrites them: not a rule to delete",
         "see what the cluster enforces: kubectl get networkpolicy -A; kubectl get services,endpointslices -A -o wide",
         nullptr, false},
        {"calico", made_by_calico, "Calico",
         "Calico (felix) writes these rules from its policies and rewrites them: not a rule to delete",
         "see the policies that apply to this host: calicoctl get globalnetworkpolicy,hostendpoint -o wide",
         calico_failsafe_advice, false},
        {"cilium", made_by_cilium, "Cilium", "cilium-agent writes these rules and rewrites them: not a rule to delete",
         "see the policies in force: cilium policy get; kubectl get ciliumnetworkpolicy,ciliumclusterwidenetworkpolicy -A",
         nullptr, false},
    };
    return table;
}

std::vector<const RuleOwner*> owners_of(const FirewallRule& r, const HostSnapshot* host) {
    std::vector<const RuleOwner*> out;
    for (const auto& owner : rule_owners())
        if (owner.matches(r, host)) out.push_back(&owner);
    return out;
}

std::vector<std::string> raw_rule_fix(const FirewallRule& r, uint16_t port) {
    if (r.backend == "iptables-legacy") {
        std::string tool = r.family == "ip6" ? "ip6tables-legacy" : "iptables-legacy";
        if (r.policy) return {fmt::format("{} -t {} -I {} -p tcp --dport {} -j ACCEPT", tool, r.table, r.chain, port)};
        return {fmt::format("{} -t {} -D {} {}", tool, r.table, r.chain, r.rule_num)};
    }
    if (made_by_iptables_nft(r)) {
        std::string tool = r.family == "ip6" ? "ip6tables" : "iptables";
        if (r.table != "filter") tool += " -t " + r.table;
        if (r.policy) return {fmt::format("{} -I {} -p tcp --dport {} -j ACCEPT", tool, r.chain, port)};
        return {fmt::format("find it: {} -S {}", tool, r.chain),
                fmt::format("delete it: {} -D {} <that rule's spec, as -S prints it after -A {}>", tool, r.chain, r.chain)};
    }
    if (r.policy) return {fmt::format("nft insert rule {} {} {} tcp dport {} accept", r.family, r.table, r.chain, port)};
    return {fmt::format("nft delete rule {} {} {} handle {}", r.family, r.table, r.chain, r.handle)};
}

namespace {

// iptables' rules are loaded at boot from a saved file: a change made by hand is gone after the
// next reboot unless saved there too.
std::string iptables_persist_line(const FirewallRule& r) {
    bool v6 = r.family == "ip6";
    std::string save = r.backend == "iptables-legacy" ? (v6 ? "ip6tables-legacy-save" : "iptables-legacy-save")
                                                      : (v6 ? "ip6tables-save" : "iptables-save");
    return fmt::format("make it last: save it where this system restores its rules (netfilter-persistent save, "
                       "or {} > /etc/iptables/rules.v{})", save, v6 ? 6 : 4);
}

void advise_as(const RuleOwner& owner, const RuleQuery& query, RuleAdvice& advice) {
    advice.owner = owner.name;
    if (owner.actor) advice.actor = owner.actor;
    if (owner.evidence) advice.evidence.push_back(owner.evidence);
    if (owner.fix) advice.fix.push_back(owner.fix);
    if (owner.advise) owner.advise(query, advice);
}

}  // namespace

RuleAdvice rule_advice(const FirewallRule& r, uint16_t port, const IpAddr& client, const HostSnapshot* host) {
    RuleAdvice advice;
    RuleQuery query{r, port, client, host};
    // The first owner only: a second one's lines would follow without a word of whose they are.
    auto owners = owners_of(r, host);
    if (!owners.empty()) advise_as(*owners.front(), query, advice);
    if (owners.empty() || owners.front()->admin_owned) {
        auto raw = raw_rule_fix(r, port);
        if (owners.empty() && (r.backend == "iptables-legacy" || made_by_iptables_nft(r)))
            raw.push_back(iptables_persist_line(r));
        advice.fix.insert(advice.fix.begin(), raw.begin(), raw.end());
    }
    if (std::string limit = limit_evidence(r); !limit.empty()) advice.evidence.push_back(limit);
    return advice;
}

std::vector<std::string> rule_fix(const FirewallRule& r, uint16_t port, const IpAddr& client, const HostSnapshot* host) {
    return rule_advice(r, port, client, host).fix;
}

}  // namespace synwhy
