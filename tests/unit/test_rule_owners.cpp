// Who owns a firewall rule, and the fix in the owner's own commands: each manager on a rule shaped
// as nft trace gives it (the ufw, fail2ban, sshguard and firewalld shapes are copied from synwhy
// reports on the systemd lab, a booted Debian 12), the others on fixtures; tc/XDP programs of a
// network plugin are inspected, never removed.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <time.h>

#include <algorithm>

#include "diagnosis/diagnose.h"
#include "diagnosis/owners/rule_owners.h"

using namespace synwhy;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

const IpAddr kClient4 = ip("203.0.113.1");
const IpAddr kClient6 = ip("2001:db8:5::1");
constexpr uint32_t kNetns = 4026532258;

FirewallRule rule(const char* backend, const char* family, const char* table, const char* chain,
                  std::vector<std::string> path, uint64_t handle, const char* text, const char* verdict,
                  bool policy = false) {
    FirewallRule r;
    r.backend = backend;
    r.family = family;
    r.table = table;
    r.chain = chain;
    r.path = std::move(path);
    r.handle = handle;
    r.text = text;
    r.verdict = verdict;
    r.policy = policy;
    return r;
}

FirewallRule nft(const char* family, const char* table, const char* chain, std::vector<std::string> path,
                 uint64_t handle, const char* text, const char* verdict = "drop") {
    return rule("nftables", family, table, chain, std::move(path), handle, text, verdict);
}

HostSnapshot host_managed_by(std::vector<std::string> managers) {
    HostSnapshot h;
    h.netns = kNetns;
    h.addresses = {ip("203.0.113.2"), ip("2001:db8:5::2")};
    for (auto& m : managers) h.firewall_managers.push_back({m, 0, ""});
    return h;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

// No line edits the manager's rules behind its back.
void expect_no_raw_edit(const std::vector<std::string>& fix) {
    for (const auto& line : fix)
        for (const char* raw : {"nft delete rule", "nft insert rule", "nft add rule", "nft flush", "iptables -D",
                                "iptables -I", "iptables-legacy -t", "iptables -t"})
            EXPECT_EQ(line.find(raw), std::string::npos) << "raw edit '" << raw << "' in: " << line;
}

std::string first_fix(const FirewallRule& r, uint16_t port, const IpAddr& client, const HostSnapshot* host) {
    auto fix = rule_fix(r, port, client, host);
    return fix.empty() ? "" : fix.front();
}

// The whole diagnosis of one SYN the rule dropped, as the tracer reports it.
Diagnosis diagnose_blocked(const FirewallRule& r, const IpAddr& client, HostSnapshot host, uint16_t port = 22) {
    const IpAddr server = client.family == Family::ipv4 ? ip("203.0.113.2") : ip("2001:db8:5::2");
    auto event = [&](EventKind kind, uint64_t ts) {
        Event e;
        e.kind = kind;
        e.ts_ns = ts;
        e.netns = kNetns;
        e.src = client;
        e.dst = server;
        e.sport = 40000;
        e.dport = port;
        e.ifname = "host0";
        return e;
    };
    Event drop = event(EventKind::drop, 1001);
    drop.reason = "NETFILTER_DROP";
    drop.location = "nft_do_chain+0x2c4";
    Event verdict = event(EventKind::firewall_verdict, 1002);
    verdict.rule = r;
    DiagnosisInput in;
    in.ports = {port};
    in.events = {event(EventKind::syn_rx, 1000), drop, verdict};
    in.hosts = {std::move(host)};
    return diagnose(in);
}

// Times in the evidence are the host's local time: pin it.
class RuleOwnersTest : public ::testing::Test {
protected:
    void SetUp() override {
        setenv("TZ", "UTC", 1);
        tzset();
    }
};

}  // namespace

// ---- ufw ----

TEST_F(RuleOwnersTest, UfwDefaultDenyIsTheInputPolicyUfwSets) {
    // sl-ufw-default-deny-4/-6: iptables-nft's INPUT chain, policy drop, no rule matched.
    auto v4 = rule("nftables", "ip", "filter", "INPUT", {}, 0, "type filter hook input priority filter; policy drop;",
                   "drop", true);
    auto v6 = v4;
    v6.family = "ip6";
    HostSnapshot ufw = host_managed_by({"ufw"});
    EXPECT_EQ(rule_fix(v4, 22, kClient4, &ufw), std::vector<std::string>{"ufw allow 22/tcp"});
    EXPECT_EQ(rule_fix(v6, 22, kClient6, &ufw), std::vector<std::string>{"ufw allow 22/tcp"});
    // Without ufw enabled the same policy is nobody's: iptables-nft's, so iptables' command.
    HostSnapshot plain = host_managed_by({});
    EXPECT_EQ(first_fix(v4, 22, kClient4, &plain), "iptables -I INPUT -p tcp --dport 22 -j ACCEPT");
    EXPECT_EQ(first_fix(v4, 22, kClient4, nullptr), "iptables -I INPUT -p tcp --dport 22 -j ACCEPT");

    auto d = diagnose_blocked(v4, kClient4, ufw);
    ASSERT_EQ(d.causes.size(), 1u);
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"ufw allow 22/tcp"});
    EXPECT_EQ(d.causes[0].summary.rfind("ufw drops SYNs to 203.0.113.2:22: its default incoming policy is deny", 0), 0u)
        << d.causes[0].summary;
}

TEST_F(RuleOwnersTest, UfwLimitIsARateLimitThatEndsAfter30Seconds) {
    // sl-ufw-limit-4/-6: the 6th new connection within 30 s goes to ufw-user-limit, which rejects.
    auto v4 = nft("ip", "filter", "ufw-user-limit", {"INPUT", "ufw-before-input", "ufw-user-input"}, 102,
                  "counter reject", "reject");
    auto v6 = nft("ip6", "filter", "ufw6-user-limit", {"INPUT", "ufw6-before-input", "ufw6-user-input"}, 141,
                  "counter reject", "reject");
    HostSnapshot ufw = host_managed_by({"ufw"});
    for (auto [r, client] : {std::pair{v4, kClient4}, std::pair{v6, kClient6}}) {
        EXPECT_EQ(owners_of(r, &ufw).size(), 1u);
        EXPECT_STREQ(owners_of(r, &ufw).front()->name, "ufw limit");
        auto d = diagnose_blocked(r, client, ufw);
        ASSERT_EQ(d.causes.size(), 1u);
        const Cause& c = d.causes[0];
        EXPECT_NE(c.summary.find("ufw limit"), std::string::npos) << c.summary;
        EXPECT_NE(c.summary.find("more than 5 new connections from " + client.str() + " within 30 s"), std::string::npos)
            << c.summary;
        ASSERT_EQ(c.fix.size(), 2u);
        EXPECT_NE(c.fix[0].find("30 s"), std::string::npos) << c.fix[0];
        EXPECT_EQ(c.fix[1], "or lift the limit for port 22: ufw delete limit 22/tcp && ufw allow 22/tcp");
        expect_no_raw_edit(c.fix);
        EXPECT_FALSE(any_contains(c.fix, "nft"));
        EXPECT_FALSE(any_contains(c.fix, "iptables"));
    }
}

// ---- firewalld ----

TEST_F(RuleOwnersTest, FirewalldZoneFromTheChainAndThePortItLacks) {
    // sl-firewalld-zone-4: the zone chain's final reject, reached by goto from filter_INPUT_ZONES.
    auto r = nft("inet", "firewalld", "filter_IN_internal", {"filter_INPUT", "filter_INPUT_ZONES"}, 72,
                 "reject with icmpx admin-prohibited", "reject");
    HostSnapshot fw = host_managed_by({"firewalld"});
    auto fix = rule_fix(r, 2222, kClient4, &fw);
    ASSERT_EQ(fix.size(), 1u);
    EXPECT_EQ(fix[0], "firewall-cmd --permanent --zone=internal --add-port=2222/tcp && firewall-cmd --reload");
    EXPECT_EQ(first_fix(r, 22, kClient6, &fw), "firewall-cmd --permanent --zone=internal --add-service=ssh && firewall-cmd --reload");
    expect_no_raw_edit(fix);

    auto d = diagnose_blocked(r, kClient6, fw, 2222);
    ASSERT_EQ(d.causes.size(), 1u);
    EXPECT_EQ(d.causes[0].summary,
              "firewalld (zone internal) rejects SYNs to [2001:db8:5::2]:2222: zone internal does not allow 2222/tcp");
}

TEST_F(RuleOwnersTest, FirewalldZoneFromASubChainOrThePath) {
    EXPECT_EQ(first_fix(nft("inet", "firewalld", "filter_IN_dmz_allow", {"filter_INPUT", "filter_IN_dmz"}, 3, "drop"), 22,
                        kClient4, nullptr),
              "firewall-cmd --permanent --zone=dmz --add-service=ssh && firewall-cmd --reload");
    // A rule in a zone's _deny chain (a rich rule): adding the port would not help.
    auto deny = rule_fix(nft("inet", "firewalld", "filter_IN_public_deny", {"filter_INPUT"}, 9,
                             "ip saddr 203.0.113.1 drop"), 22, kClient4, nullptr);
    EXPECT_EQ(deny[0], "find the rule that denies it: firewall-cmd --zone=public --list-rich-rules");
    // firewalld 2.x rejects in filter_INPUT_POLICIES: no zone in the names.
    auto policies = rule_fix(nft("inet", "firewalld", "filter_INPUT_POLICIES", {"filter_INPUT"}, 40,
                                 "iifname \"host0\" reject with icmpx admin-prohibited", "reject"),
                             2222, kClient4, nullptr);
    ASSERT_EQ(policies.size(), 2u);
    EXPECT_EQ(policies[0], "find the zone: firewall-cmd --get-active-zones");
    EXPECT_EQ(policies[1], "firewall-cmd --permanent --zone=ZONE --add-port=2222/tcp && firewall-cmd --reload");
}

// ---- fail2ban ----

TEST_F(RuleOwnersTest, Fail2banNftablesBanIsLiftedByTheJail) {
    // sl-fail2ban-nft-4: the nftables banaction's set rule.
    auto r = nft("inet", "f2b-table", "f2b-chain", {}, 5,
                 "tcp dport 22 ip saddr @addr-set-sshd reject with icmp port-unreachable", "reject");
    HostSnapshot h = host_managed_by({"fail2ban"});
    h.bans.push_back({"fail2ban", "sshd", kClient4, 1796180462, 1796180462 + 600});
    auto d = diagnose_blocked(r, kClient4, h);
    ASSERT_EQ(d.causes.size(), 1u);
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix[0], "fail2ban-client set sshd unbanip 203.0.113.1");
    EXPECT_TRUE(any_contains(c.evidence, "fail2ban jail sshd banned 203.0.113.1 at 03:01:02 for 600 s, until 03:11:02"));
    EXPECT_NE(c.summary.find("a fail2ban ban (jail sshd)"), std::string::npos) << c.summary;
    expect_no_raw_edit(c.fix);
    EXPECT_FALSE(any_contains(c.fix, "nft"));

    // The IPv6 set, and no ban known: the jail's bantime says how long.
    auto v6 = nft("inet", "f2b-table", "f2b-chain", {}, 6, "tcp dport 22 ip6 saddr @addr6-set-sshd reject", "reject");
    auto advice = rule_advice(v6, 22, kClient6, nullptr);
    EXPECT_EQ(advice.fix[0], "fail2ban-client set sshd unbanip 2001:db8:5::1");
    EXPECT_TRUE(any_contains(advice.evidence,
                             "a fail2ban ban: it ends after the jail's bantime (fail2ban-client get sshd bantime)"));
}

TEST_F(RuleOwnersTest, Fail2banIptablesChainNamesTheJail) {
    // sl-fail2ban-iptables-4/-6 (and -nft-6): iptables-nft's f2b-sshd chain, one rule per address.
    auto v4 = nft("ip", "filter", "f2b-sshd", {"INPUT"}, 5, "ip saddr 203.0.113.1 counter reject", "reject");
    auto v6 = nft("ip6", "filter", "f2b-sshd", {"INPUT"}, 6, "ip6 saddr 2001:db8:5::1 counter reject", "reject");
    EXPECT_EQ(first_fix(v4, 22, kClient4, nullptr), "fail2ban-client set sshd unbanip 203.0.113.1");
    EXPECT_EQ(first_fix(v6, 22, kClient6, nullptr), "fail2ban-client set sshd unbanip 2001:db8:5::1");
    auto legacy = rule("iptables-legacy", "ip", "filter", "f2b-recidive", {"INPUT"}, 0,
                       "-A f2b-recidive -s 203.0.113.1/32 -j REJECT --reject-with icmp-port-unreachable", "reject");
    EXPECT_EQ(first_fix(legacy, 22, kClient4, nullptr), "fail2ban-client set recidive unbanip 203.0.113.1");
    expect_no_raw_edit(rule_fix(v6, 22, kClient6, nullptr));
    expect_no_raw_edit(rule_fix(legacy, 22, kClient4, nullptr));
}

TEST_F(RuleOwnersTest, Fail2banUnbansEachClient) {
    auto r = nft("inet", "f2b-table", "f2b-chain", {}, 5, "tcp dport 22 ip saddr @addr-set-sshd reject", "reject");
    HostSnapshot h = host_managed_by({"fail2ban"});
    auto blocked = [&](const char* client, uint16_t sport) {
        std::vector<Event> events;
        for (EventKind kind : {EventKind::syn_rx, EventKind::drop, EventKind::firewall_verdict}) {
            Event e;
            e.kind = kind;
            e.ts_ns = 1000 + sport;
            e.netns = kNetns;
            e.src = ip(client);
            e.dst = ip("203.0.113.2");
            e.sport = sport;
            e.dport = 22;
            e.reason = kind == EventKind::drop ? "NETFILTER_DROP" : "";
            e.location = kind == EventKind::drop ? "nft_do_chain+0x2c4" : "";
            if (kind == EventKind::firewall_verdict) e.rule = r;
            events.push_back(e);
        }
        return events;
    };
    DiagnosisInput in;
    in.ports = {22};
    in.events = blocked("203.0.113.1", 1);
    for (auto& e : blocked("203.0.113.9", 2)) in.events.push_back(e);
    in.hosts = {h};
    auto d = diagnose(in);
    ASSERT_EQ(d.causes.size(), 1u);
    EXPECT_EQ(d.causes[0].fix[0], "fail2ban-client set sshd unbanip 203.0.113.1");
    EXPECT_TRUE(any_contains(d.causes[0].fix, "fail2ban-client set sshd unbanip 203.0.113.9"));
}

// ---- sshguard ----

TEST_F(RuleOwnersTest, SshguardBanIsAnElementOfItsSet) {
    // sl-sshguard-4/-6: tables ip/ip6 sshguard, chain blacklist, set attackers.
    auto v4 = nft("ip", "sshguard", "blacklist", {}, 3, "ip saddr @attackers drop");
    auto v6 = nft("ip6", "sshguard", "blacklist", {}, 3, "ip6 saddr @attackers drop");
    HostSnapshot h = host_managed_by({"sshguard"});
    auto d = diagnose_blocked(v4, kClient4, h);
    ASSERT_EQ(d.causes.size(), 1u);
    const Cause& c = d.causes[0];
    ASSERT_EQ(c.fix.size(), 3u);
    EXPECT_EQ(c.fix[0], "nft delete element ip sshguard attackers { 203.0.113.1 }");
    EXPECT_EQ(c.fix[1], "if that fails, sshguard blocked a wider prefix (IPV4_SUBNET/IPV6_SUBNET): "
                        "nft list set ip sshguard attackers, and delete the prefix that holds the client");
    EXPECT_EQ(c.fix[2], "if 203.0.113.1 is yours, keep sshguard from blocking it again: add it to sshguard's "
                        "WHITELIST_FILE (Debian: /etc/sshguard/whitelist), then systemctl restart sshguard");
    EXPECT_TRUE(any_contains(c.evidence, "sshguard blocks for BLOCK_TIME (120 s at first, longer for repeat offenders)"));
    EXPECT_NE(c.summary.find("a temporary ban"), std::string::npos) << c.summary;
    expect_no_raw_edit(c.fix);
    EXPECT_FALSE(any_contains(c.fix, "iptables"));
    EXPECT_EQ(first_fix(v6, 22, kClient6, &h), "nft delete element ip6 sshguard attackers { 2001:db8:5::1 }");
    // Its iptables backend: a chain sshguard with a rule per address.
    auto ipt = nft("ip", "filter", "sshguard", {"INPUT"}, 8, "ip saddr 203.0.113.1 counter drop");
    EXPECT_EQ(first_fix(ipt, 22, kClient4, &h), "iptables -D sshguard -s 203.0.113.1/32 -j DROP");
}

// ---- fixtures for what the lab cannot run ----

TEST_F(RuleOwnersTest, CrowdsecDecisionIsDeletedWithCscli) {
    auto set = nft("ip", "crowdsec", "crowdsec-chain-input", {}, 4, "ip saddr @crowdsec-blacklists-0 drop");
    auto advice = rule_advice(set, 22, kClient4, nullptr);
    EXPECT_EQ(advice.owner, "crowdsec");
    // No snapshot: the decision lives in a LAPI that may be another host's.
    EXPECT_EQ(advice.fix[0],
              "on the host that runs the CrowdSec agent/LAPI (here if crowdsec runs): cscli decisions delete --ip 203.0.113.1");
    EXPECT_TRUE(any_contains(advice.evidence, "cscli decisions list --ip 203.0.113.1"));
    expect_no_raw_edit(advice.fix);
    auto ipt = rule("iptables-legacy", "ip", "filter", "CROWDSEC_CHAIN", {"INPUT"}, 0,
                    "-A CROWDSEC_CHAIN -m set --match-set crowdsec-blacklists-0 src -j DROP", "drop");
    HostSnapshot agent = host_managed_by({"crowdsec"});
    EXPECT_EQ(rule_fix(ipt, 22, kClient4, &agent), std::vector<std::string>{"cscli decisions delete --ip 203.0.113.1"});
}

TEST_F(RuleOwnersTest, TailscaleCgnatRuleIsExplainedNotDeleted) {
    // tailscaled in nftables mode reuses iptables-nft's ip filter; ts-input drops 100.64.0.0/10
    // arriving outside tailscale0.
    auto r = nft("ip", "filter", "ts-input", {"INPUT"}, 11, "iifname != \"tailscale0\" ip saddr 100.64.0.0/10 counter drop");
    IpAddr cgnat_client = ip("100.100.7.1");
    auto advice = rule_advice(r, 22, cgnat_client, nullptr);
    EXPECT_EQ(advice.owner, "tailscale");
    EXPECT_NE(advice.fix[0].find("tailscale status"), std::string::npos) << advice.fix[0];
    EXPECT_TRUE(any_contains(advice.evidence, "100.64.0.0/10"));
    EXPECT_EQ(advice.reason, "100.100.7.1 is in Tailscale's range 100.64.0.0/10 but did not come in on tailscale0");
    expect_no_raw_edit(advice.fix);
}

TEST_F(RuleOwnersTest, KubernetesChainsAreInspectedNeverDeleted) {
    auto kube = nft("ip", "filter", "KUBE-FIREWALL", {"INPUT"}, 21, "ip daddr != 127.0.0.0/8 ip saddr 127.0.0.0/8 counter drop");
    auto calico = nft("ip", "filter", "cali-from-host-endpoint", {"INPUT", "cali-INPUT"}, 30,
                      "counter drop comment \"cali:mD4d8-PmyRQ2kmRa\"");
    auto cilium = nft("ip", "filter", "CILIUM_INPUT", {"INPUT"}, 40, "counter drop");
    EXPECT_EQ(first_fix(kube, 22, kClient4, nullptr).rfind("see what the cluster enforces: kubectl get networkpolicy -A", 0), 0u);
    EXPECT_EQ(first_fix(calico, 22, kClient4, nullptr),
              "see the policies that apply to this host: calicoctl get globalnetworkpolicy,hostendpoint -o wide");
    EXPECT_TRUE(any_contains(rule_fix(calico, 22, kClient4, nullptr), "failsafe"));
    EXPECT_NE(first_fix(cilium, 22, kClient4, nullptr).find("cilium policy get"), std::string::npos);
    for (const auto& r : {kube, calico, cilium}) {
        ASSERT_EQ(owners_of(r).size(), 1u) << r.chain;
        expect_no_raw_edit(rule_fix(r, 22, kClient4, nullptr));
    }
}

TEST_F(RuleOwnersTest, DockerUserIsTheAdministratorsOwn) {
    auto user = nft("ip", "filter", "DOCKER-USER", {"FORWARD"}, 9, "tcp dport 22 counter drop");
    auto fix = rule_fix(user, 22, kClient4, nullptr);
    // iptables-nft's table (FORWARD is its base chain): iptables' commands, Docker's boot note.
    ASSERT_EQ(fix.size(), 3u);
    EXPECT_EQ(fix[0], "find it: iptables -S DOCKER-USER");
    EXPECT_EQ(fix[1], "delete it: iptables -D DOCKER-USER <that rule's spec, as -S prints it after -A DOCKER-USER>");
    EXPECT_EQ(fix[2].rfind("and remove the rule from whatever adds it at boot", 0), 0u);
    EXPECT_TRUE(any_contains(rule_advice(user, 22, kClient4, nullptr).evidence, "never rewrites it"));
    // Docker's own chains: publish the port, never edit them.
    auto docker = nft("ip", "filter", "DOCKER", {"FORWARD", "DOCKER-FORWARD"}, 14, "iifname != \"docker0\" counter drop");
    EXPECT_EQ(first_fix(docker, 22, kClient4, nullptr).rfind("Docker manages this chain: publish the port (docker run -p)", 0), 0u);
    expect_no_raw_edit(rule_fix(docker, 22, kClient4, nullptr));
    auto podman = nft("inet", "netavark", "NETAVARK-ISOLATION-1", {"FORWARD"}, 3, "drop");
    EXPECT_NE(first_fix(podman, 22, kClient4, nullptr).find("podman port --all"), std::string::npos);
    expect_no_raw_edit(rule_fix(podman, 22, kClient4, nullptr));
}

TEST_F(RuleOwnersTest, PlainRuleGetsTheRawCommandAndItsLimitSaid) {
    auto limited = nft("inet", "filter", "input", {}, 7, "tcp dport 22 ct state new limit rate over 3/minute counter drop");
    auto advice = rule_advice(limited, 22, kClient4, nullptr);
    EXPECT_EQ(advice.owner, "");
    EXPECT_EQ(advice.fix, std::vector<std::string>{"nft delete rule inet filter input handle 7"});
    EXPECT_FALSE(any_contains(advice.fix, "iptables"));
    EXPECT_TRUE(any_contains(advice.evidence, "a rate limit (limit rate over 3/minute)"));
    auto counted = nft("inet", "filter", "input", {}, 8, "tcp dport 22 ct count over 4 reject");
    EXPECT_TRUE(any_contains(rule_advice(counted, 22, kClient4, nullptr).evidence, "a connection limit (ct count over 4)"));
    auto metered = nft("inet", "filter", "input", {}, 9,
                       "tcp dport 22 meter ssh4 { ip saddr limit rate over 10/minute } drop");
    EXPECT_TRUE(any_contains(rule_advice(metered, 22, kClient4, nullptr).evidence, "a per-address rate limit (meter ssh4"));
    auto plain = nft("inet", "filter", "input", {}, 3, "tcp dport 22 drop");
    EXPECT_TRUE(rule_advice(plain, 22, kClient4, nullptr).evidence.empty());
}

// ---- tc and XDP programs ----

namespace {

// One SYN dropped on eth0 by a tc or XDP program (reason and location as the tracer reports them).
Diagnosis program_drop_with(std::vector<NetProgram> programs, std::vector<std::string> managers, const char* reason,
                            const char* location) {
    HostSnapshot h = host_managed_by(std::move(managers));
    h.net_programs = std::move(programs);
    Event syn, drop;
    for (Event* e : {&syn, &drop}) {
        e->netns = kNetns;
        e->src = kClient4;
        e->dst = ip("203.0.113.2");
        e->sport = 40000;
        e->dport = 22;
        e->ifname = "eth0";
        e->ts_ns = 1000;
    }
    syn.kind = EventKind::syn_rx;
    drop.kind = EventKind::drop;
    drop.reason = reason;
    drop.location = location;
    DiagnosisInput in;
    in.ports = {22};
    in.events = {syn, drop};
    in.hosts = {h};
    return diagnose(in);
}

Diagnosis xdp_drop_with(std::vector<NetProgram> programs, std::vector<std::string> managers = {}) {
    return program_drop_with(std::move(programs), std::move(managers), "NOT_SPECIFIED", "do_xdp_generic+0x29f");
}

}  // namespace

TEST_F(RuleOwnersTest, CiliumXdpProgramIsInspectedNotDetached) {
    auto d = xdp_drop_with({{"eth0", "xdp", 812, "cil_xdp_entry", 4100, "cilium-agent"}});
    ASSERT_EQ(d.causes.size(), 1u);
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.code, "kernel-drop");
    EXPECT_TRUE(any_contains(c.evidence, "XDP program 812 'cil_xdp_entry' on eth0 (xdp), held by pid 4100 (cilium-agent)"));
    EXPECT_NE(c.fix[0].find("Cilium's datapath: do not remove it"), std::string::npos) << c.fix[0];
    EXPECT_TRUE(any_contains(c.fix, "bpftool net show dev eth0"));
    EXPECT_FALSE(any_contains(c.fix, "xdp off"));
    EXPECT_FALSE(any_contains(c.fix, "xdpgeneric off"));
    // Calico running, the program unnamed: still a plugin's, still not removed.
    auto calico = xdp_drop_with({}, {"calico"});
    EXPECT_FALSE(any_contains(calico.causes[0].fix, "off"));
    EXPECT_TRUE(any_contains(calico.causes[0].fix, "calicoctl"));
}

TEST_F(RuleOwnersTest, OtherXdpProgramIsNamedAndRemovableOnceSeen) {
    auto d = xdp_drop_with({{"eth0", "xdpgeneric", 42, "xdp_drop", 123, "foo"}});
    const Cause& c = d.causes[0];
    EXPECT_TRUE(any_contains(c.evidence, "XDP program 42 'xdp_drop' on eth0 (xdpgeneric), held by pid 123 (foo)"));
    ASSERT_EQ(c.fix.size(), 2u);
    EXPECT_EQ(c.fix[0].rfind("see it: ip link show dev eth0", 0), 0u);
    EXPECT_EQ(c.fix[1], "if it is not part of a network plugin, detach it: ip link set dev eth0 xdpgeneric off (or xdp off)");
}

// #10: the removal names the one filter, never the whole clsact qdisc.
TEST_F(RuleOwnersTest, TcFilterIsRemovedByItsPrefAndHandleOnly) {
    auto d = program_drop_with({{"eth0", "tc ingress", 77, "drop_ssh", 321, "loader"}}, {}, "TC_INGRESS", "tcf_classify+0x1a");
    ASSERT_EQ(d.causes.size(), 1u);
    const Cause& c = d.causes[0];
    ASSERT_EQ(c.fix.size(), 2u);
    EXPECT_EQ(c.fix[0], "see it: tc filter show dev eth0 ingress; bpftool net show dev eth0");
    EXPECT_EQ(c.fix[1], "if it is not part of a network plugin, remove that filter (its pref and handle are in the show "
                        "output): tc filter del dev eth0 ingress pref PREF handle HANDLE bpf");
    EXPECT_FALSE(any_contains(c.fix, "qdisc"));
}

TEST_F(RuleOwnersTest, MorePluginsAreRecognisedByProgramOrHolder) {
    struct Case {
        NetProgram program;
        const char* plugin;
    };
    for (const Case& k : {Case{{"eth0", "xdp", 5, "balancer_ingres", 700, "katran_server_g"}, "Katran"},
                          Case{{"eth0", "xdp", 6, "", 701, "antrea-agent"}, "Antrea"},
                          Case{{"eth0", "xdp", 7, "", 702, "kube-router"}, "kube-router"},
                          Case{{"eth0", "xdp", 8, "", 703, "flanneld"}, "flannel"},
                          Case{{"eth0", "xdp", 9, "calico_xdp_main", 0, ""}, "Calico"}}) {
        auto d = xdp_drop_with({k.program});
        ASSERT_EQ(d.causes.size(), 1u);
        const Cause& c = d.causes[0];
        EXPECT_NE(c.summary.find(std::string("(") + k.plugin + "'s datapath)"), std::string::npos) << c.summary;
        EXPECT_EQ(c.fix[0].rfind(std::string("it is ") + k.plugin + "'s datapath: do not remove it", 0), 0u) << c.fix[0];
        EXPECT_FALSE(any_contains(c.fix, " off")) << k.plugin;
    }
}

// ---- #7: ufw rules that name the client ----

TEST_F(RuleOwnersTest, UfwDenyOfTheClientIsFoundAndDeletedNotAllowed) {
    // `ufw deny from 203.0.113.1`, as iptables-nft shows it in nft trace; and a prefix, as iptables-legacy saves it.
    auto v4 = nft("ip", "filter", "ufw-user-input", {"INPUT", "ufw-before-input"}, 31, "ip saddr 203.0.113.1 counter drop");
    auto legacy = rule("iptables-legacy", "ip6", "filter", "ufw6-user-input", {"INPUT", "ufw6-before-input"}, 0,
                       "-A ufw6-user-input -s 2001:db8:5::/64 -j DROP", "drop");
    HostSnapshot ufw = host_managed_by({"ufw"});
    EXPECT_EQ(rule_fix(v4, 22, kClient4, &ufw),
              (std::vector<std::string>{"find the rule: ufw status numbered (a deny from 203.0.113.1)", "then: ufw delete NUM"}));
    auto fix6 = rule_fix(legacy, 22, kClient6, &ufw);
    EXPECT_EQ(fix6.front(), "find the rule: ufw status numbered (a deny from 2001:db8:5::/64)");
    for (const auto& fix : {rule_fix(v4, 22, kClient4, &ufw), fix6}) {
        EXPECT_FALSE(any_contains(fix, "ufw allow"));
        expect_no_raw_edit(fix);
    }
    auto d = diagnose_blocked(v4, kClient4, ufw);
    ASSERT_EQ(d.causes.size(), 1u);
    EXPECT_EQ(d.causes[0].summary, "ufw drops SYNs to 203.0.113.2:22: a ufw rule denies 203.0.113.1");
    // A negated source is not a deny of the client; a port deny keeps the allow (ufw replaces it in place).
    auto negated = rule("iptables-legacy", "ip", "filter", "ufw-user-input", {"INPUT"}, 0,
                        "-A ufw-user-input ! -s 10.0.0.0/8 -p tcp --dport 22 -j DROP", "drop");
    EXPECT_EQ(first_fix(negated, 22, kClient4, &ufw), "ufw allow 22/tcp");
    auto port_deny = nft("ip", "filter", "ufw-user-input", {"INPUT", "ufw-before-input"}, 32, "tcp dport 22 counter drop");
    EXPECT_EQ(first_fix(port_deny, 22, kClient4, &ufw), "ufw allow 22/tcp");
}

TEST_F(RuleOwnersTest, UfwBanactionBanIsLiftedByFail2ban) {
    // fail2ban with banaction = ufw: `ufw insert 1 deny from 203.0.113.1 to any` in ufw-user-input.
    auto r = nft("ip", "filter", "ufw-user-input", {"INPUT", "ufw-before-input"}, 33, "ip saddr 203.0.113.1 counter drop");
    HostSnapshot h = host_managed_by({"ufw", "fail2ban"});
    h.bans.push_back({"fail2ban", "sshd", kClient4, 1796180462, 1796180462 + 600});
    auto d = diagnose_blocked(r, kClient4, h);
    ASSERT_EQ(d.causes.size(), 1u);
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix[0], "fail2ban-client set sshd unbanip 203.0.113.1");
    EXPECT_FALSE(any_contains(c.fix, "ufw allow"));
    EXPECT_FALSE(any_contains(c.fix, "ufw delete"));
    EXPECT_NE(c.summary.find("a fail2ban ban (jail sshd)"), std::string::npos) << c.summary;
    EXPECT_TRUE(any_contains(c.evidence, "banaction = ufw"));
    EXPECT_TRUE(any_contains(c.evidence, "fail2ban jail sshd banned 203.0.113.1 at 03:01:02 for 600 s"));
}

TEST_F(RuleOwnersTest, UfwOwnRulesPointAtTheirFile) {
    HostSnapshot ufw = host_managed_by({"ufw"});
    auto invalid = nft("ip", "filter", "ufw-before-input", {"INPUT"}, 40, "ct state invalid counter drop");
    EXPECT_EQ(rule_fix(invalid, 22, kClient4, &ufw),
              std::vector<std::string>{"see /etc/ufw/before.rules (the rule in ufw-before-input that drops it), "
                                       "change it there, then: ufw reload"});
    auto not_local = nft("ip6", "filter", "ufw6-not-local", {"INPUT", "ufw6-before-input"}, 41, "counter drop");
    EXPECT_EQ(first_fix(not_local, 22, kClient6, &ufw).rfind("see /etc/ufw/before6.rules", 0), 0u);
    auto after = nft("ip", "filter", "ufw-after-input", {"INPUT"}, 42, "udp dport 137 counter drop");
    EXPECT_EQ(first_fix(after, 22, kClient4, &ufw).rfind("see /etc/ufw/after.rules", 0), 0u);
    EXPECT_FALSE(any_contains(rule_fix(after, 22, kClient4, &ufw), "ufw allow"));
}

// ---- #8: tables iptables-nft made are edited with iptables ----

TEST_F(RuleOwnersTest, IptablesNftTablesGetIptablesCommands) {
    HostSnapshot plain = host_managed_by({});
    auto policy6 = rule("nftables", "ip6", "filter", "INPUT", {}, 0, "type filter hook input priority filter; policy drop;",
                        "drop", true);
    EXPECT_EQ(rule_fix(policy6, 2222, kClient6, &plain),
              (std::vector<std::string>{"ip6tables -I INPUT -p tcp --dport 2222 -j ACCEPT",
                                        "make it last: save it where this system restores its rules (netfilter-persistent "
                                        "save, or ip6tables-save > /etc/iptables/rules.v6)"}));
    auto in_chain = nft("ip", "filter", "SSH_BLOCK", {"INPUT"}, 12, "tcp dport 22 counter drop");
    EXPECT_EQ(rule_fix(in_chain, 22, kClient4, &plain),
              (std::vector<std::string>{"find it: iptables -S SSH_BLOCK",
                                        "delete it: iptables -D SSH_BLOCK <that rule's spec, as -S prints it after -A SSH_BLOCK>",
                                        "make it last: save it where this system restores its rules (netfilter-persistent "
                                        "save, or iptables-save > /etc/iptables/rules.v4)"}));
    auto raw = nft("ip", "raw", "PREROUTING", {}, 3, "tcp dport 22 counter drop");
    EXPECT_EQ(first_fix(raw, 22, kClient4, &plain), "find it: iptables -t raw -S PREROUTING");
    // A native table that happens to be called filter, with nft's lower-case chains: nft.
    auto native = nft("ip", "filter", "input", {}, 5, "tcp dport 22 drop");
    EXPECT_EQ(rule_fix(native, 22, kClient4, &plain), std::vector<std::string>{"nft delete rule ip filter input handle 5"});
    // iptables-legacy's rules are saved the same way.
    auto legacy = rule("iptables-legacy", "ip", "filter", "INPUT", {}, 0, "", "drop", true);
    EXPECT_TRUE(any_contains(rule_fix(legacy, 22, kClient4, &plain), "iptables-legacy-save > /etc/iptables/rules.v4"));
}

// ---- #9, #17, #18, #19, #20, #21, #36 ----

TEST_F(RuleOwnersTest, Fail2banIgnoreipIsAddedNotReplaced) {
    auto r = nft("inet", "f2b-table", "f2b-chain", {}, 5, "tcp dport 22 ip saddr @addr-set-sshd reject", "reject");
    auto fix = rule_fix(r, 22, kClient4, nullptr);
    ASSERT_EQ(fix.size(), 2u);
    EXPECT_EQ(fix[1], "if 203.0.113.1 is yours, keep fail2ban from banning it again: fail2ban-client set sshd addignoreip "
                      "203.0.113.1 (and append it to ignoreip in /etc/fail2ban/jail.local to keep it)");
}

TEST_F(RuleOwnersTest, FirewalldIptablesBackendChainsAreFirewalldsOwn) {
    // FirewallBackend=iptables: INPUT -> INPUT_ZONES -> IN_public, whose last rule rejects.
    auto zone = rule("nftables", "ip", "filter", "IN_public", {"INPUT", "INPUT_ZONES"}, 20,
                     "counter reject with icmp host-prohibited", "reject");
    HostSnapshot fw = host_managed_by({"firewalld"});
    EXPECT_EQ(owners_of(zone).size(), 1u);
    EXPECT_STREQ(owners_of(zone).front()->name, "firewalld");
    EXPECT_EQ(rule_fix(zone, 22, kClient4, &fw),
              std::vector<std::string>{"firewall-cmd --permanent --zone=public --add-service=ssh && firewall-cmd --reload"});
    auto d = diagnose_blocked(zone, kClient4, fw);
    ASSERT_EQ(d.causes.size(), 1u);
    EXPECT_EQ(d.causes[0].summary, "firewalld (zone public) rejects SYNs to 203.0.113.2:22: zone public does not allow 22/tcp");
    // A zone's sub-chain, its path not traced: firewalld's where firewalld runs.
    auto allow = rule("iptables-legacy", "ip", "filter", "IN_dmz_allow", {}, 0, "-A IN_dmz_allow -j DROP", "drop");
    EXPECT_EQ(first_fix(allow, 2222, kClient4, &fw),
              "firewall-cmd --permanent --zone=dmz --add-port=2222/tcp && firewall-cmd --reload");
    EXPECT_TRUE(owners_of(allow, nullptr).empty());
    auto direct = nft("ip", "filter", "INPUT_direct", {"INPUT"}, 4, "tcp dport 22 counter drop");
    EXPECT_EQ(first_fix(direct, 22, kClient4, &fw), "find the direct rule: firewall-cmd --permanent --direct --get-all-rules");
    for (const auto& r : {zone, allow, direct}) expect_no_raw_edit(rule_fix(r, 22, kClient4, &fw));
}

TEST_F(RuleOwnersTest, SshguardPrefixAndOtherBackends) {
    HostSnapshot h = host_managed_by({"sshguard"});
    // The iptables backend's rule names the prefix sshguard blocked (IPV4_SUBNET=24).
    auto wide = nft("ip", "filter", "sshguard", {"INPUT"}, 8, "ip saddr 203.0.113.0/24 counter drop");
    auto fix = rule_fix(wide, 22, kClient4, &h);
    ASSERT_EQ(fix.size(), 2u);
    EXPECT_EQ(fix[0], "iptables -D sshguard -s 203.0.113.0/24 -j DROP");
    EXPECT_EQ(fix[1].rfind("if 203.0.113.1 is yours", 0), 0u) << fix[1];
    // The firewalld backend: a rich rule on ipset sshguard4 in firewalld's table; sshguard's, not firewalld's.
    auto rich = nft("inet", "firewalld", "filter_IN_public_deny", {"filter_INPUT", "filter_INPUT_ZONES", "filter_IN_public"},
                    9, "ip saddr @sshguard4 drop");
    HostSnapshot fw = host_managed_by({"sshguard", "firewalld"});
    auto advice = rule_advice(rich, 22, kClient4, &fw);
    EXPECT_EQ(advice.owner, "sshguard");
    EXPECT_EQ(advice.fix[0], "find its entry: firewall-cmd --ipset=sshguard4 --get-entries");
    EXPECT_EQ(advice.fix[1], "then: firewall-cmd --ipset=sshguard4 --remove-entry=ENTRY (the one that holds 203.0.113.1)");
    EXPECT_FALSE(any_contains(advice.fix, "add-service"));
    // The ipset backend, with the administrator's own iptables rule.
    auto ipset = rule("iptables-legacy", "ip6", "filter", "INPUT", {}, 0,
                      "-A INPUT -m set --match-set sshguard6 src -j DROP", "drop");
    EXPECT_EQ(first_fix(ipset, 22, kClient6, &h), "ipset del sshguard6 2001:db8:5::1");
}

TEST_F(RuleOwnersTest, CrowdsecBouncerAloneSendsToTheLapiHost) {
    auto set = nft("ip", "crowdsec", "crowdsec-chain-input", {}, 4, "ip saddr @crowdsec-blacklists-crowdsec drop");
    HostSnapshot bouncer;
    bouncer.firewall_managers.push_back({"crowdsec", 900, "crowdsec-firewall-bouncer"});
    auto advice = rule_advice(set, 22, kClient4, &bouncer);
    EXPECT_EQ(advice.fix, std::vector<std::string>{"on the host that runs the CrowdSec agent/LAPI (here if crowdsec runs): "
                                                   "cscli decisions delete --ip 203.0.113.1"});
    EXPECT_TRUE(any_contains(advice.evidence, "api_url"));
    EXPECT_TRUE(any_contains(advice.evidence, "comes back at the next blocklist pull"));
}

TEST_F(RuleOwnersTest, TailscaleRulesAreOnlyLookedAt) {
    auto r = nft("ip", "filter", "ts-input", {"INPUT"}, 11, "iifname != \"tailscale0\" ip saddr 100.64.0.0/10 counter drop");
    auto fix = rule_fix(r, 22, ip("100.100.7.1"), nullptr);
    EXPECT_FALSE(any_contains(fix, "netfilter-mode"));
    EXPECT_FALSE(any_contains(fix, "tailscale up"));
    EXPECT_TRUE(any_contains(fix, "iptables -S ts-input"));
}

TEST_F(RuleOwnersTest, DockerIsolationChainsAreNotAboutPublishing) {
    for (const char* chain : {"DOCKER-ISOLATION-STAGE-2", "DOCKER-CT", "DOCKER-INGRESS", "DOCKER-INTERNAL"}) {
        auto r = nft("ip", "filter", chain, {"FORWARD", "DOCKER-FORWARD"}, 14, "counter drop");
        auto fix = rule_fix(r, 22, kClient4, nullptr);
        ASSERT_EQ(fix.size(), 1u) << chain;
        EXPECT_EQ(fix[0].rfind(std::string("Docker's chain ") + chain + " drops it", 0), 0u) << fix[0];
        EXPECT_TRUE(any_contains(fix, "docker network inspect")) << chain;
        EXPECT_FALSE(any_contains(fix, "publish the port")) << chain;
        expect_no_raw_edit(fix);
    }
}

TEST_F(RuleOwnersTest, TwoOwnersGiveTheFirstOnesLinesOnly) {
    // fail2ban's chain reached through ufw's: both claim it; fail2ban (asked first) speaks.
    auto r = nft("ip", "filter", "f2b-sshd", {"INPUT", "ufw-before-input"}, 5, "ip saddr 203.0.113.1 counter reject", "reject");
    ASSERT_EQ(owners_of(r).size(), 2u);
    auto advice = rule_advice(r, 22, kClient4, nullptr);
    EXPECT_EQ(advice.owner, "fail2ban");
    EXPECT_EQ(advice.fix[0], "fail2ban-client set sshd unbanip 203.0.113.1");
    EXPECT_FALSE(any_contains(advice.fix, "ufw"));
    // Kubernetes rows: the row's lines, and Calico's own failsafe line on port 22 only.
    auto calico = nft("ip", "filter", "cali-from-host-endpoint", {"INPUT", "cali-INPUT"}, 30, "counter drop");
    EXPECT_EQ(rule_fix(calico, 2222, kClient4, nullptr).size(), 1u);
    EXPECT_EQ(rule_fix(calico, 22, kClient4, nullptr).size(), 2u);
}
