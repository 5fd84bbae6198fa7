#include "diagnosis/owners/rule_owners.h"

#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/describe.h"
#include "diagnosis/diagnose.h"

namespace synwhy {

namespace {

using detail::has_manager;

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

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

void ufw_advice(const RuleQuery& q, RuleAdvice& a) {
    a.actor = "ufw";
    if (q.rule.policy) a.reason = fmt::format("its default incoming policy is deny ({})", describe_rule(q.rule));
    a.fix.push_back(fmt::format("ufw allow {}/tcp", q.port));
    // `ufw allow` replaces a deny of the same port, not a deny of an address or a range.
    if (q.rule.chain.ends_with("-user-input"))
        a.fix.push_back("if a ufw deny rule still matches the client: ufw status numbered, then ufw delete NUM");
}

// `ufw limit PORT/tcp`: its user rules send the 6th new connection from one address within 30 s
// (-m recent --seconds 30 --hitcount 6, fixed in ufw) to ufw-user-limit, which rejects it.
bool made_by_ufw_limit(const FirewallRule& r, const HostSnapshot*) { return is_ufw_limit_chain(r.chain); }

void ufw_limit_advice(const RuleQuery& q, RuleAdvice& a) {
    a.actor = "ufw limit";
    a.reason = fmt::format("more than 5 new connections from {} within 30 s (a rate limit)", q.client.str());
    a.evidence.push_back("ufw limit: a client's 6th new connection within 30 s is rejected, and every one after it "
                         "until the client stays away for 30 s");
    a.fix.push_back("wait 30 s: ufw limit forgets a client 30 s after its last new connection "
                    "(it rejects the 6th within 30 s)");
    a.fix.push_back(fmt::format("or lift the limit for port {0}: ufw delete limit {0}/tcp && ufw allow {0}/tcp", q.port));
}

// ---- firewalld ----

bool made_by_firewalld(const FirewallRule& r, const HostSnapshot*) { return r.table.starts_with("firewalld"); }

// The zone of a chain filter_IN_<zone>[_allow|_deny|_pre|_post|_log], "" for another chain
// (filter_IN_policy_* are policies, not zones).
std::string zone_of_chain(const std::string& chain) {
    static const std::string prefix = "filter_IN_";
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
    a.evidence.push_back("firewalld writes its nft table again on every reload: change its configuration, not the rule");
    if (r.table == "firewalld_policy_drop") {
        a.reason = "it drops everything while in panic mode or while it starts";
        a.fix.push_back("see whether panic mode is on: firewall-cmd --query-panic; if so: firewall-cmd --panic-off");
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
    if (!zone.empty() && r.chain == "filter_IN_" + zone && !contains(r.text, "dport"))
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

const Ban* fail2ban_ban(const HostSnapshot* host, const IpAddr& client, const std::string& jail) {
    if (!host) return nullptr;
    for (const Ban& b : host->bans)
        if (b.manager == "fail2ban" && b.addr == client && (jail.empty() || b.jail == jail)) return &b;
    return nullptr;
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
    a.fix.push_back(fmt::format("keep fail2ban from banning it again: add {} to ignoreip in /etc/fail2ban/jail.local, "
                                "then fail2ban-client reload", client));
}

// ---- sshguard: tables ip/ip6 sshguard (nft backend), or a chain sshguard (iptables backend) ----

bool made_by_sshguard(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "sshguard" || in_or_via(r, [](const std::string& c) { return c == "sshguard"; });
}

void sshguard_advice(const RuleQuery& q, RuleAdvice& a) {
    std::string client = q.client.str();
    bool v6 = is_v6(q.rule, q.client);
    a.actor = "sshguard";
    a.reason = fmt::format("it blocks {} (a temporary ban)", client);
    a.evidence.push_back("sshguard blocks for BLOCK_TIME (120 s at first, longer for repeat offenders)");
    if (q.rule.table == "sshguard")
        a.fix.push_back(fmt::format("nft delete element {} sshguard attackers {{ {} }}", v6 ? "ip6" : "ip", client));
    else
        a.fix.push_back(fmt::format("{} -D sshguard -s {}/{} -j DROP", iptables_tool(q.rule, q.client), client, v6 ? 128 : 32));
    a.fix.push_back(fmt::format("keep sshguard from blocking it again: add {} to /etc/sshguard/whitelist, "
                                "then systemctl restart sshguard", client));
}

// ---- CrowdSec's firewall bouncer: tables crowdsec/crowdsec6 or iptables CROWDSEC_CHAIN ----

bool made_by_crowdsec(const FirewallRule& r, const HostSnapshot*) {
    return r.table.starts_with("crowdsec") || contains(r.text, "crowdsec-blacklists") ||
           in_or_via(r, [](const std::string& c) { return c.starts_with("crowdsec-chain") || c == "CROWDSEC_CHAIN"; });
}

void crowdsec_advice(const RuleQuery& q, RuleAdvice& a) {
    std::string client = q.client.str();
    a.actor = "CrowdSec";
    a.reason = fmt::format("a decision bans {}", client);
    a.evidence.push_back(fmt::format("a CrowdSec ban (a decision) lasts until the decision expires: "
                                     "cscli decisions list --ip {} shows when", client));
    // The bouncer re-adds what is deleted from its sets while the decision stands.
    a.fix.push_back(fmt::format("cscli decisions delete --ip {}", client));
}

// ---- Docker, Podman ----

bool made_by_docker_user(const FirewallRule& r, const HostSnapshot*) { return r.chain == "DOCKER-USER"; }

void docker_user_advice(const RuleQuery&, RuleAdvice& a) {
    a.evidence.push_back("DOCKER-USER holds the administrator's own rules: Docker creates it and never rewrites it");
    a.fix.push_back("and remove the rule from whatever adds it at boot (Docker does not save DOCKER-USER)");
}

bool made_by_docker(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "docker-bridges" || r.chain == "DOCKER" ||
           (r.chain.starts_with("DOCKER-") && r.chain != "DOCKER-USER");
}

void docker_advice(const RuleQuery&, RuleAdvice& a) {
    a.actor = "Docker";
    a.fix.push_back("Docker manages this chain: publish the port (docker run -p) or check docker network/ps "
                    "(docker ps; docker network inspect NETWORK)");
}

bool made_by_netavark(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "netavark" || in_or_via(r, [](const std::string& c) { return c.starts_with("NETAVARK"); });
}

void netavark_advice(const RuleQuery&, RuleAdvice& a) {
    a.actor = "netavark (Podman)";
    a.fix.push_back("netavark (Podman) manages this table: see the published ports: podman port --all");
}

// ---- Tailscale: ts-input / ts-forward, in iptables' tables or nft's ip filter ----

bool made_by_tailscale(const FirewallRule& r, const HostSnapshot*) {
    return in_or_via(r, [](const std::string& c) { return c == "ts-input" || c == "ts-forward"; });
}

bool in_tailscale_range(const IpAddr& a) {  // 100.64.0.0/10
    return a.family == Family::ipv4 && a.bytes[0] == 100 && (a.bytes[1] & 0xc0) == 64;
}

void tailscale_advice(const RuleQuery& q, RuleAdvice& a) {
    a.actor = "tailscaled";
    if (in_tailscale_range(q.client))
        a.reason = fmt::format("{} is in Tailscale's range 100.64.0.0/10 but did not come in on tailscale0", q.client.str());
    a.evidence.push_back("tailscaled made this rule and puts it back: it drops packets from Tailscale's range "
                         "100.64.0.0/10 that do not come in on tailscale0 (against spoofing); a client with such an "
                         "address on another network (a carrier-grade NAT) is dropped");
    a.fix.push_back("connect over the tailnet: ssh to this host's Tailscale address (tailscale status; tailscale ip)");
    a.fix.push_back("or, only if you manage this host's firewall yourself: tailscale up --netfilter-mode=off "
                    "(tailscaled then adds no rules at all)");
}

// ---- Kubernetes: kube-proxy, Calico, Cilium rewrite their chains continuously ----

bool made_by_kube_proxy(const FirewallRule& r, const HostSnapshot*) {
    return r.table == "kube-proxy" || in_or_via(r, [](const std::string& c) { return c.starts_with("KUBE-"); });
}

void kube_proxy_advice(const RuleQuery&, RuleAdvice& a) {
    a.actor = "kube-proxy";
    a.evidence.push_back("kube-proxy writes these rules from the cluster's Services and rewrites them: not a rule to delete");
    a.fix.push_back("see what the cluster enforces: kubectl get networkpolicy -A; kubectl get services,endpointslices -A -o wide");
}

bool made_by_calico(const FirewallRule& r, const HostSnapshot*) {
    return r.table.starts_with("calico") || in_or_via(r, [](const std::string& c) { return c.starts_with("cali-"); });
}

void calico_advice(const RuleQuery& q, RuleAdvice& a) {
    a.actor = "Calico";
    a.evidence.push_back("Calico (felix) writes these rules from its policies and rewrites them: not a rule to delete");
    a.fix.push_back("see the policies that apply to this host: calicoctl get globalnetworkpolicy,hostendpoint -o wide");
    if (q.port == 22)
        a.fix.push_back("Calico's failsafe ports include 22 by default: see whether they were changed: "
                        "calicoctl get felixconfiguration default -o yaml (failsafeInboundHostPorts)");
}

bool made_by_cilium(const FirewallRule& r, const HostSnapshot*) {
    return contains(r.table, "cilium") || in_or_via(r, [](const std::string& c) { return c.starts_with("CILIUM_"); });
}

void cilium_advice(const RuleQuery&, RuleAdvice& a) {
    a.actor = "Cilium";
    a.evidence.push_back("cilium-agent writes these rules and rewrites them: not a rule to delete");
    a.fix.push_back("see the policies in force: cilium policy get; kubectl get ciliumnetworkpolicy,ciliumclusterwidenetworkpolicy -A");
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
        {"fail2ban", made_by_fail2ban, fail2ban_advice, false},
        {"sshguard", made_by_sshguard, sshguard_advice, false},
        {"crowdsec", made_by_crowdsec, crowdsec_advice, false},
        {"ufw limit", made_by_ufw_limit, ufw_limit_advice, false},
        {"ufw", made_by_ufw, ufw_advice, false},
        {"firewalld", made_by_firewalld, firewalld_advice, false},
        {"docker-user", made_by_docker_user, docker_user_advice, true},
        {"docker", made_by_docker, docker_advice, false},
        {"netavark", made_by_netavark, netavark_advice, false},
        {"tailscale", made_by_tailscale, tailscale_advice, false},
        {"kube-proxy", made_by_kube_proxy, kube_proxy_advice, false},
        {"calico", made_by_calico, calico_advice, false},
        {"cilium", made_by_cilium, cilium_advice, false},
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

RuleAdvice rule_advice(const FirewallRule& r, uint16_t port, const IpAddr& client, const HostSnapshot* host) {
    RuleAdvice advice;
    RuleQuery query{r, port, client, host};
    bool raw_safe = true;
    for (const RuleOwner* owner : owners_of(r, host)) {
        RuleAdvice theirs;
        owner->advise(query, theirs);
        if (advice.owner.empty()) {
            advice.owner = owner->name;
            advice.actor = theirs.actor;
            advice.reason = theirs.reason;
        }
        detail::append(advice.evidence, theirs.evidence);
        detail::append(advice.fix, theirs.fix);
        raw_safe = raw_safe && owner->raw_fix_safe;
    }
    if (raw_safe) advice.fix.insert(advice.fix.begin(), raw_rule_fix(r, port));
    if (std::string limit = limit_evidence(r); !limit.empty()) advice.evidence.push_back(limit);
    return advice;
}

std::vector<std::string> rule_fix(const FirewallRule& r, uint16_t port, const IpAddr& client, const HostSnapshot* host) {
    return rule_advice(r, port, client, host).fix;
}

}  // namespace synwhy
