// The diagnosis on hand-built fixtures: events as the tracer decodes them, snapshots as the
// host probes fill them. No root, no kernel.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/diagnose.h"
#include "diagnose_helpers.h"

using namespace synwhy;
using namespace synwhy::testing;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

constexpr uint32_t kNetns = 4026532000;

Event ev(EventKind kind, const char* client, uint16_t sport, const char* server, uint16_t dport,
         uint64_t ts = 1000) {
    Event e;
    e.kind = kind;
    e.ts_ns = ts;
    e.netns = kNetns;
    e.src = ip(client);
    e.dst = ip(server);
    e.sport = sport;
    e.dport = dport;
    e.ifname = "veth-srv";
    return e;
}

Event syn(const char* client, uint16_t sport, const char* server, uint16_t dport = 22, uint64_t ts = 1000) {
    return ev(EventKind::syn_rx, client, sport, server, dport, ts);
}

Event rst(const char* client, uint16_t sport, const char* server, uint16_t dport = 22) {
    Event e = ev(EventKind::rst_sent, client, sport, server, dport, 1001);
    e.reason = "NO_SOCKET";
    return e;
}

Event drop(const char* client, uint16_t sport, const char* server, const char* reason, const char* location,
           uint16_t dport = 22) {
    Event e = ev(EventKind::drop, client, sport, server, dport, 1001);
    e.reason = reason;
    e.location = location;
    return e;
}

Listener listener(const char* addr, uint16_t port, int pid = 812, const char* comm = "sshd", bool v6only = false) {
    Listener l;
    l.addr = ip(addr);
    l.port = port;
    l.pid = pid;
    l.comm = comm;
    l.v6only = v6only;
    l.backlog = 128;
    return l;
}

HostSnapshot host_with(std::vector<Listener> listeners) {
    HostSnapshot h;
    h.netns = kNetns;
    h.listeners = std::move(listeners);
    h.addresses = {ip("192.0.2.2"), ip("2001:db8::2"), ip("127.0.0.1")};
    return h;
}

SshdProcess sshd_daemon(int pid, const char* config = "/etc/ssh/sshd_config") {
    SshdProcess p;
    p.pid = pid;
    p.ppid = 1;
    p.config_path = config;
    p.is_listener = true;
    return p;
}

}  // namespace

TEST(Diagnose, NoSynAtAllIsNotArriving) {
    auto d = run({}, host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"not-arriving"});
    EXPECT_TRUE(d.flows.empty());
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "192.0.2.2"));
    EXPECT_FALSE(d.causes[0].fix.empty());
}

TEST(Diagnose, HandshakeCompletedIsAcceptedWithNoFailureCause) {
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), ev(EventKind::tx_synack, "192.0.2.1", 40000, "192.0.2.2", 22),
                  ev(EventKind::established, "192.0.2.1", 40000, "192.0.2.2", 22)},
                 host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    ASSERT_EQ(d.flows.size(), 1u);
    EXPECT_EQ(d.flows[0].verdict, "accepted");
    EXPECT_NE(d.flows[0].detail.find("sshd (pid 812)"), std::string::npos);
    EXPECT_TRUE(d.causes[0].fix.empty());
}

TEST(Diagnose, ResetWithNoListenerAndNoSshdIsNoListener) {
    HostSnapshot h = host_with({});
    SshdConfig cfg;
    cfg.config_path = "/etc/ssh/sshd_config";
    cfg.ok = true;
    cfg.ports = {22};
    h.sshd_configs = {cfg};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    const Cause& c = d.causes[0];
    EXPECT_TRUE(any_contains(c.evidence, "no socket listens on port 22"));
    EXPECT_TRUE(any_contains(c.evidence, "no sshd daemon process is running"));
    EXPECT_TRUE(any_contains(c.fix, "/usr/sbin/sshd"));
    EXPECT_NE(d.flows[0].detail.find("NO_SOCKET"), std::string::npos);
}

TEST(Diagnose, NoListenerWithSystemdNamesTheUnitToEnable) {
    HostSnapshot h = host_with({});
    h.systemd_running = true;
    h.units = {{"ssh.service", "loaded", "inactive", "dead", "disabled", 0}};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d)[0], "no-listener");
    // The name people type (issue 12): `systemctl enable --now ssh`, not the unit file's name.
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl enable --now ssh"});
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "ssh.service: inactive (dead), disabled"));
}

TEST(Diagnose, MaskedUnitIsUnmaskedFirst) {
    HostSnapshot h = host_with({});
    h.systemd_running = true;
    h.units = {{"ssh.service", "masked", "inactive", "dead", "masked", 0}};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_GE(d.causes[0].fix.size(), 2u);
    EXPECT_EQ(d.causes[0].fix[0], "systemctl unmask ssh");
    EXPECT_EQ(d.causes[0].fix[1], "systemctl enable --now ssh");
}

TEST(Diagnose, BrokenSshdConfigIsQuotedInTheFix) {
    HostSnapshot h = host_with({});
    SshdConfig cfg;
    cfg.config_path = "/etc/ssh/sshd_config";
    cfg.ok = false;
    cfg.error = "/etc/ssh/sshd_config line 3: Badly formatted port number.";
    h.sshd_configs = {cfg};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d)[0], "no-listener");
    EXPECT_TRUE(any_contains(d.causes[0].fix, "line 3: Badly formatted port number"));
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "sshd -t -f /etc/ssh/sshd_config"));
}

TEST(Diagnose, DropReasonNoSocketAloneAlsoMeansRefused) {
    // A kernel without tcp_send_reset's reason still drops the SYN with NO_SOCKET.
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), drop("192.0.2.1", 40000, "192.0.2.2", "NO_SOCKET", "tcp_v4_rcv+0x1a")},
                 host_with({}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"no-listener"});
}

TEST(Diagnose, SshdOnAnotherPortIsListeningElsewhere) {
    // Ambiguous snapshot: no listener on :22, and sshd running on :2222.
    HostSnapshot h = host_with({listener("0.0.0.0", 2222), listener("::", 2222, 812, "sshd", true)});
    h.sshd_processes = {sshd_daemon(812, "/run/lab/sshd_config")};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});
    const Cause& c = d.causes[0];
    EXPECT_NE(c.summary.find(":2222"), std::string::npos);
    EXPECT_TRUE(any_contains(c.fix, "ssh -p 2222 user@192.0.2.2"));
    EXPECT_TRUE(any_contains(c.fix, "Port 22"));
    EXPECT_TRUE(any_contains(c.fix, "/run/lab/sshd_config"));
}

TEST(Diagnose, SomethingElseOnAnotherPortIsNotListeningElsewhere) {
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")},
                 host_with({listener("0.0.0.0", 80, 77, "nginx")}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"no-listener"});
}

TEST(Diagnose, LoopbackOnlyListenerIsBoundOtherAddress) {
    HostSnapshot h = host_with({listener("127.0.0.1", 22), listener("::1", 22, 812, "sshd", true)});
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"bound-other-address"});
    EXPECT_NE(d.causes[0].summary.find("127.0.0.1"), std::string::npos);
    EXPECT_TRUE(any_contains(d.causes[0].fix, "ListenAddress"));
    EXPECT_TRUE(any_contains(d.causes[0].fix, "user@127.0.0.1"));
}

TEST(Diagnose, ListenerOnlyOnIpv6LoopbackAndIpv6Syn) {
    HostSnapshot h = host_with({listener("::1", 22, 812, "sshd", true)});
    auto d = run({syn("2001:db8::1", 40000, "2001:db8::2"), rst("2001:db8::1", 40000, "2001:db8::2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"bound-other-address"});
    EXPECT_NE(d.flows[0].detail.find("[::1]:22 is bound to ::1"), std::string::npos);
    EXPECT_EQ(d.flows[0].family, Family::ipv6);
}

TEST(Diagnose, V6OnlyWildcardAndIpv4SynIsBoundOtherAddress) {
    HostSnapshot h = host_with({listener("::", 22, 812, "sshd", /*v6only=*/true)});
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"bound-other-address"});
    EXPECT_NE(d.flows[0].detail.find("IPv6-only"), std::string::npos);
    EXPECT_TRUE(any_contains(d.causes[0].fix, "AddressFamily any"));
}

TEST(Diagnose, DualStackWildcardTakesIpv4) {
    Listener dual = listener("::", 22, 812, "sshd", false);
    EXPECT_TRUE(listener_accepts(dual, ip("192.0.2.2")));
    EXPECT_TRUE(listener_accepts(dual, ip("2001:db8::2")));
    EXPECT_FALSE(listener_accepts(listener("::", 22, 1, "x", true), ip("192.0.2.2")));
    EXPECT_TRUE(listener_accepts(listener("::ffff:192.0.2.2", 22), ip("192.0.2.2")));
    EXPECT_FALSE(listener_accepts(listener("0.0.0.0", 22), ip("2001:db8::2")));
    EXPECT_FALSE(listener_accepts(listener("127.0.0.1", 22), ip("192.0.2.2")));
}

TEST(Diagnose, NftablesDropIsFirewallDrop) {
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"),
                  drop("192.0.2.1", 40000, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x2c4"),
                  syn("192.0.2.1", 40000, "192.0.2.2", 22, 2000),
                  drop("192.0.2.1", 40000, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x2c4")},
                 host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-drop"});
    EXPECT_EQ(d.flows[0].syns, 2u);
    EXPECT_NE(d.causes[0].summary.find("nftables"), std::string::npos);
    EXPECT_TRUE(any_contains(d.causes[0].fix, "nft"));
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "listening: sshd (pid 812)"));
}

TEST(Diagnose, ADropInNfHookSlowIsNetfilterUntilACounterProvesTheBackend) {
    // nf_hook_slow carries out nftables' verdicts on some kernels and x_tables' on others: with
    // no trace and no counter, neither backend is named, and the fix points at both.
    HostSnapshot h = host_with({listener("0.0.0.0", 22)});
    h.iptables_legacy_present = true;
    std::vector<Event> events = {syn("192.0.2.1", 40000, "192.0.2.2"),
                                 drop("192.0.2.1", 40000, "192.0.2.2", "NETFILTER_DROP", "nf_hook_slow+0x4a")};
    auto d = run(events, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-drop"});
    EXPECT_NE(d.causes[0].summary.find("(netfilter)"), std::string::npos) << d.causes[0].summary;
    EXPECT_TRUE(any_contains(d.causes[0].fix, "nft -a list ruleset"));
    EXPECT_TRUE(any_contains(d.causes[0].fix, "iptables-legacy -L"));

    // A legacy rule whose counter grew during the capture is the proof.
    firewall::LegacyRule policy{"ip", "filter", "INPUT", 0, 0, "ACCEPT", ":INPUT ACCEPT"};
    firewall::LegacyRule legacy{"ip", "filter", "INPUT", 3, 0, "DROP", "-A INPUT -p tcp -m tcp --dport 22 -j DROP"};
    DiagnosisInput in;
    in.ports = {22};
    in.events = events;
    in.hosts = {h};
    in.legacy_rules.before = {policy, legacy};
    legacy.packets = 2;
    in.legacy_rules.after = {policy, legacy};
    d = diagnose(in);
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-drop"});
    EXPECT_NE(d.causes[0].summary.find("iptables-legacy"), std::string::npos) << d.causes[0].summary;
    EXPECT_EQ(d.causes[0].fix.front(), "iptables-legacy -t filter -D INPUT 3");

    // A drop inside nft_do_chain is nftables', whatever legacy counters say.
    in.events[1].location = "nft_do_chain+0x46f";
    d = diagnose(in);
    EXPECT_NE(d.causes[0].summary.find("(nftables)"), std::string::npos) << d.causes[0].summary;
}

TEST(Diagnose, ForwardedSynsAreCountedApartNotDiagnosed) {
    // A Docker/KVM host sees SYNs for its guests pass through: they are not its own.
    auto d = run({syn("192.0.2.1", 40000, "198.51.100.7"), syn("192.0.2.1", 40001, "192.0.2.2"),
                  rst("192.0.2.1", 40001, "192.0.2.2")},
                 host_with({}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.flows.size(), 1u);
    EXPECT_EQ(d.syns_seen, 1u);
    EXPECT_EQ(d.syns_forwarded, 1u);
}

TEST(Diagnose, AFlowFromANamespaceWithoutSnapshotIsNotJudgedOnAnothers) {
    HostSnapshot own = host_with({});  // nothing listens here
    HostSnapshot other = host_with({listener("0.0.0.0", 22)});
    other.netns = kNetns + 1;
    own.netns = kNetns + 2;
    std::vector<HostSnapshot> hosts = {own, other};
    EXPECT_EQ(host_for(hosts, kNetns + 1), &hosts[1]);
    EXPECT_EQ(host_for(hosts, kNetns), nullptr);
    // One snapshot stands for the one watched namespace.
    std::vector<HostSnapshot> one = {own};
    EXPECT_EQ(host_for(one, 0), &one[0]);
}

TEST(Diagnose, CausesAreSplitByPortAndRule) {
    // :22 refused, :2222 refused: two causes, each with its own port in the summary.
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 22), rst("192.0.2.1", 40000, "192.0.2.2", 22),
                  syn("192.0.2.1", 40001, "192.0.2.2", 2222), rst("192.0.2.1", 40001, "192.0.2.2", 2222)},
                 host_with({}), {22, 2222});
    ASSERT_EQ(codes(d), (std::vector<std::string>{"no-listener", "no-listener"}));
    EXPECT_NE(d.causes[0].summary.find("port 22"), d.causes[1].summary.find("port 22"));
    EXPECT_TRUE(any_contains({d.causes[0].summary, d.causes[1].summary}, "nothing listens on port 2222"));
}

TEST(Diagnose, FirewallRstWithoutTcpResetIsReject) {
    Event wire_rst = ev(EventKind::tx_rst, "192.0.2.1", 40000, "192.0.2.2", 22, 1001);
    wire_rst.outbound = true;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), wire_rst,
                  drop("192.0.2.1", 40000, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x2c4")},
                 host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-reject"});
    EXPECT_NE(d.flows[0].detail.find("TCP RST"), std::string::npos);
}

TEST(Diagnose, IcmpRejectNamesTheIcmpType) {
    Event icmp = ev(EventKind::icmp_sent, "2001:db8::1", 40000, "2001:db8::2", 22, 1001);
    icmp.icmp_type = 1;
    icmp.icmp_code = 4;
    auto d = run({syn("2001:db8::1", 40000, "2001:db8::2"), icmp,
                  drop("2001:db8::1", 40000, "2001:db8::2", "NETFILTER_DROP", "nft_do_chain+0x2c4")},
                 host_with({listener("::", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-reject"});
    EXPECT_NE(d.flows[0].detail.find("ICMPv6 port unreachable"), std::string::npos);
}

TEST(Diagnose, SeveralCausesAreRankedByFlowsAndAcceptedComesLast) {
    std::vector<Event> events;
    // three flows dropped by the firewall, one refused on :2200 (sshd is on :22), two accepted
    for (uint16_t p : {40001, 40002, 40003}) {
        events.push_back(syn("192.0.2.1", p, "192.0.2.2"));
        events.push_back(drop("192.0.2.1", p, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x10"));
    }
    events.push_back(syn("192.0.2.9", 40010, "192.0.2.2", 2200));
    events.push_back(rst("192.0.2.9", 40010, "192.0.2.2", 2200));
    for (uint16_t p : {40020, 40021}) {
        events.push_back(syn("192.0.2.5", p, "192.0.2.2"));
        events.push_back(ev(EventKind::established, "192.0.2.5", p, "192.0.2.2", 22));
    }
    // :2200 is watched too and sshd is on watched :22: nothing listens on :2200 (not "elsewhere").
    auto d = run(events, host_with({listener("0.0.0.0", 22)}), {22, 2200});
    EXPECT_EQ(codes(d), (std::vector<std::string>{"firewall-drop", "no-listener", "accepted"}));
    EXPECT_EQ(d.causes[0].flows, 3u);
    EXPECT_EQ(d.causes[2].flows, 2u);
    EXPECT_EQ(d.syns_seen, 6u);
    EXPECT_EQ(d.flows.size(), 6u);
}

TEST(Diagnose, EqualCountsPreferTheFirewall) {
    auto d = run({syn("192.0.2.1", 1, "192.0.2.2"), rst("192.0.2.1", 1, "192.0.2.2"), syn("192.0.2.1", 2, "192.0.2.2"),
                  drop("192.0.2.1", 2, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x10")},
                 host_with({}));
    EXPECT_EQ(codes(d), (std::vector<std::string>{"firewall-drop", "no-listener"}));
}

TEST(Diagnose, OtherDropReasonIsKernelDrop) {
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"),
                  drop("192.0.2.1", 40000, "192.0.2.2", "IP_RPFILTER", "ip_rcv_finish_core+0x1a")},
                 host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"kernel-drop"});
    EXPECT_TRUE(any_contains(d.causes[0].fix, "rp_filter"));
}

TEST(Diagnose, EventsWithoutAnInboundSynMakeNoFlow) {
    // A handshake finishing just after the capture began: not an attempt we saw.
    auto d = run({ev(EventKind::established, "192.0.2.1", 40000, "192.0.2.2", 22)}, host_with({}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"not-arriving"});
}

TEST(Diagnose, FlowsInDifferentNamespacesAreApart) {
    Event a = syn("192.0.2.1", 40000, "192.0.2.2");
    Event b = a;
    b.netns = kNetns + 1;
    auto d = run({a, b}, host_with({}));
    EXPECT_EQ(d.flows.size(), 2u);
}

TEST(Diagnose, SynAckWithoutAckIsHandshakeIncomplete) {
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), ev(EventKind::tx_synack, "192.0.2.1", 40000, "192.0.2.2", 22),
                  ev(EventKind::synack_retrans, "192.0.2.1", 40000, "192.0.2.2", 22)},
                 host_with({listener("0.0.0.0", 22)}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"handshake-incomplete"});
}

TEST(Diagnose, FullAcceptQueueIsListenOverflow) {
    Listener l = listener("0.0.0.0", 22);
    l.backlog = 2;
    l.accept_queue = 3;
    Listener l6 = listener("::", 22, 812, "sshd", true);  // the same sshd's IPv6 socket
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2")}, host_with({l, l6}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"listen-overflow"});
    // One fix line per command, not one per socket of the same process.
    const auto& fix = d.causes[0].fix;
    EXPECT_EQ(std::count_if(fix.begin(), fix.end(), [](const std::string& f) { return f.find("pid 812") != std::string::npos; }), 1);
}

TEST(Diagnose, DiscardedDuplicateSynAfterSynAckIsNotAKernelDrop) {
    Event dup = drop("2001:db8::1", 40000, "2001:db8::2", "NOT_SPECIFIED", "tcp_v6_rcv+0x81");
    dup.tcp_flags = 0x02;
    auto d = run({syn("2001:db8::1", 40000, "2001:db8::2"), ev(EventKind::tx_synack, "2001:db8::1", 40000, "2001:db8::2", 22),
                  syn("2001:db8::1", 40000, "2001:db8::2", 22, 2000), dup},
                 host_with({listener("::", 22)}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"handshake-incomplete"});
}

TEST(Diagnose, SocketActivatedSshNamesTheSocketUnit) {
    HostSnapshot h = host_with({});
    h.systemd_running = true;
    h.units = {{"ssh.service", "loaded", "inactive", "dead", "disabled", 0},
               {"ssh.socket", "loaded", "failed", "failed", "enabled", 0}};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d)[0], "no-listener");
    // A failed socket starts again only after reset-failed (issue 12).
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl reset-failed ssh.socket && systemctl start ssh.socket"});
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "ssh.socket: failed (failed), enabled"));
}

TEST(Diagnose, DisabledServiceWithoutSocketIsEnabled) {
    HostSnapshot h = host_with({});
    h.systemd_running = true;
    h.units = {{"ssh.service", "loaded", "inactive", "dead", "disabled", 0},
               {"ssh.socket", "loaded", "inactive", "dead", "disabled", 0}};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl enable --now ssh"});
}

TEST(Diagnose, ListenerInAContainerIsOtherNetns) {
    HostSnapshot h = host_with({});
    ForeignListener f;
    f.netns = 4026532999;
    f.netns_name = "";
    f.container = "docker 3f2a1b9c0d4e";
    f.listener = listener("0.0.0.0", 22, 4242, "sshd");
    h.other_netns_listeners = {f};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"other-netns"});
    EXPECT_NE(d.causes[0].summary.find("sshd (pid 4242) on 0.0.0.0:22 in netns 4026532999 (container docker 3f2a1b9c0d4e)"),
              std::string::npos);
    EXPECT_TRUE(any_contains(d.causes[0].fix, "docker run -p 22:22"));
}

TEST(Diagnose, ContainerListenerOnAnotherPortDoesNotCount) {
    HostSnapshot h = host_with({});
    ForeignListener f;
    f.netns = 4026532999;
    f.listener = listener("0.0.0.0", 8080, 4242, "nginx");
    h.other_netns_listeners = {f};
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    EXPECT_EQ(codes(d), std::vector<std::string>{"no-listener"});
}

TEST(Diagnose, NotArrivingSaysWhereTheNamePointsAndWhichPortTheClientUsed) {
    DiagnosisInput in;
    in.ports = {22};
    in.hosts = {host_with({listener("0.0.0.0", 22)})};
    in.hostname = HostnameCheck{"ssh.example.org", {ip("198.51.100.7")}, ""};
    in.other_port_syns = {{kNetns, ip("192.0.2.1"), 2222, 3}, {kNetns + 1, ip("192.0.2.9"), 80, 9}};
    auto d = diagnose(in);
    ASSERT_EQ(codes(d), std::vector<std::string>{"not-arriving"});
    const Cause& c = d.causes[0];
    EXPECT_TRUE(any_contains(c.evidence, "ssh.example.org resolves to 198.51.100.7: none of them is an address of this host"));
    EXPECT_TRUE(any_contains(c.evidence, "SYNs from 192.0.2.1 arrived on port 2222 instead"));
    EXPECT_FALSE(any_contains(c.evidence, "192.0.2.9"));  // another namespace's traffic
    EXPECT_NE(c.fix[0].find("connects to port 2222, not 22"), std::string::npos);

    in.hostname = HostnameCheck{"ssh.example.org", {ip("192.0.2.2")}, ""};
    in.other_port_syns.clear();
    auto local = diagnose(in);
    EXPECT_TRUE(any_contains(local.causes[0].evidence, "192.0.2.2 is this host's"));
}

TEST(Diagnose, NotArrivingIgnoresThisHostsOwnConnections) {
    // A healthy server while nobody tries SSH: a local client of a database on 127.0.0.1:5432 and
    // a process connecting to the host's own address are no remote client on another port.
    DiagnosisInput in;
    in.ports = {22};
    in.hosts = {host_with({listener("0.0.0.0", 22)})};
    in.other_port_syns = {{kNetns, ip("127.0.0.1"), 5432, 40}, {kNetns, ip("192.0.2.2"), 8080, 7},
                          {kNetns, ip("::1"), 6379, 3}};
    auto d = diagnose(in);
    ASSERT_EQ(codes(d), std::vector<std::string>{"not-arriving"});
    EXPECT_FALSE(any_contains(d.causes[0].evidence, "instead"));
    EXPECT_FALSE(any_contains(d.causes[0].fix, "connects to port"));
    // A remote client among them is still named.
    in.other_port_syns.push_back({kNetns, ip("192.0.2.1"), 2222, 1});
    auto remote = diagnose(in);
    EXPECT_TRUE(any_contains(remote.causes[0].evidence, "SYN from 192.0.2.1 arrived on port 2222 instead"));
    EXPECT_FALSE(any_contains(remote.causes[0].evidence, "127.0.0.1"));
    EXPECT_NE(remote.causes[0].fix[0].find("the client 192.0.2.1 connects to port 2222, not 22"), std::string::npos);
}

TEST(Diagnose, NotArrivingIgnoresSynsThisHostOnlyForwards) {
    // A router or a Docker/KVM host forwards a client's SYNs to another host's port 80: that
    // client aims elsewhere, not at this host on the wrong port.
    DiagnosisInput in;
    in.ports = {22};
    in.hosts = {host_with({listener("0.0.0.0", 22)})};
    in.other_port_syns = {{kNetns, ip("192.0.2.1"), 80, 4, ip("198.51.100.2")}};
    auto d = diagnose(in);
    ASSERT_EQ(codes(d), std::vector<std::string>{"not-arriving"});
    EXPECT_FALSE(any_contains(d.causes[0].evidence, "instead"));
    // The same client to this host's own address on port 80 is evidence.
    in.other_port_syns.push_back({kNetns, ip("192.0.2.1"), 80, 1, ip("192.0.2.2")});
    auto here = diagnose(in);
    EXPECT_TRUE(any_contains(here.causes[0].evidence, "from 192.0.2.1 arrived on port 80 instead"));
}

TEST(Diagnose, KernelDropsWithAKnownRemedy) {
    auto tc = run({syn("192.0.2.1", 1, "192.0.2.2"), drop("192.0.2.1", 1, "192.0.2.2", "TC_INGRESS", "__netif_receive_skb_core+0x4dc")},
                  host_with({listener("0.0.0.0", 22)}));
    EXPECT_NE(tc.causes[0].summary.find("tc ingress filter on veth-srv"), std::string::npos);
    // Generic XDP reports no specific reason: the location tells.
    auto xdp = run({syn("192.0.2.1", 1, "192.0.2.2"), drop("192.0.2.1", 1, "192.0.2.2", "NOT_SPECIFIED", "do_xdp_generic+0x29f")},
                   host_with({listener("0.0.0.0", 22)}));
    EXPECT_NE(xdp.causes[0].summary.find("XDP program on veth-srv"), std::string::npos);
    EXPECT_TRUE(any_contains(xdp.causes[0].fix, "ip link set dev veth-srv xdpgeneric off"));
    auto other = run({syn("192.0.2.1", 1, "192.0.2.2"), drop("192.0.2.1", 1, "192.0.2.2", "TCP_MD5NOTFOUND", "tcp_v4_rcv+0x10")},
                     host_with({listener("0.0.0.0", 22)}));
    EXPECT_TRUE(any_contains(other.causes[0].fix, "TCP_MD5NOTFOUND"));
    EXPECT_TRUE(any_contains(other.causes[0].fix, "tcp_v4_rcv"));
}

TEST(Diagnose, HandshakeBehindDnatJoinsTheFlowByItsClientEnd) {
    Event est = ev(EventKind::established, "192.0.2.1", 40000, "198.51.100.2", 22);
    est.netns = kNetns + 7;  // the container's namespace
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222), ev(EventKind::tx_synack, "192.0.2.1", 40000, "192.0.2.2", 2222),
                  est},
                 host_with({}), {2222});
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    ASSERT_EQ(d.flows.size(), 1u);
    EXPECT_NE(d.flows[0].detail.find("followed through DNAT to 198.51.100.2:22 in netns"), std::string::npos);
    // Another client's handshake does not join it.
    Event other = est;
    other.sport = 40001;
    auto d2 = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222), other}, host_with({}), {2222});
    EXPECT_EQ(codes(d2), std::vector<std::string>{"unanswered"});
}

// A published port (host :2222 -> container 198.51.100.2:22) seen from the host: the events
// behind the DNAT carry the new destination; they are one flow with the client's.
Event dnat_forward_drop(uint16_t sport) {
    Event e = drop("192.0.2.1", sport, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x46f", 2222);
    e.tcp_flags = 0x02;
    e.nat_dst = ip("198.51.100.2");
    e.nat_dport = 22;
    return e;
}

Event docker_user_verdict(uint16_t sport, uint64_t ts) {
    Event v = ev(EventKind::firewall_verdict, "192.0.2.1", sport, "198.51.100.2", 22, ts);  // as FORWARD saw it
    FirewallRule r;
    r.backend = "nftables";
    r.family = "ip";
    r.table = "filter";
    r.chain = "DOCKER-USER";
    r.path = {"FORWARD"};
    r.handle = 12;
    r.text = "iifname \"veth-srv\" ip saddr != 203.0.113.0/24 counter drop";
    r.verdict = "drop";
    v.rule = r;
    return v;
}

TEST(Diagnose, DropInForwardAfterDnatIsThePublishedFlowsWithItsRule) {
    // The trace verdict comes after the drop, or before it (then it made a flow of its own).
    for (bool trace_first : {false, true}) {
        std::vector<Event> events = {syn("192.0.2.1", 40000, "192.0.2.2", 2222)};
        if (trace_first) events.push_back(docker_user_verdict(40000, 1000));
        events.push_back(dnat_forward_drop(40000));
        if (!trace_first) events.push_back(docker_user_verdict(40000, 1002));
        auto d = run(events, host_with({}), {2222});
        ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-drop"}) << trace_first;
        ASSERT_EQ(d.flows.size(), 1u);
        EXPECT_EQ(d.flows[0].dport, 2222);
        ASSERT_TRUE(d.flows[0].nat_dst);
        EXPECT_EQ(d.flows[0].nat_dst->str(), "198.51.100.2");
        EXPECT_EQ(d.flows[0].nat_dport, 22);
        ASSERT_TRUE(d.causes[0].rule);
        EXPECT_EQ(d.causes[0].rule->chain, "DOCKER-USER");
    }
}

TEST(Diagnose, RefusalInsideTheDnatTargetIsDnatRefusedNotTheHostsPort) {
    Event refused = drop("192.0.2.1", 40000, "198.51.100.2", "NO_SOCKET", "tcp_v4_rcv+0x81");
    refused.netns = kNetns + 7;  // the container's namespace
    refused.tcp_flags = 0x02;
    Event back = ev(EventKind::tx_rst, "192.0.2.1", 40000, "192.0.2.2", 2222, 1002);  // the RST leaving the host
    HostSnapshot h = host_with({});
    NetnsView view;
    view.netns = kNetns + 7;
    view.netns_name = "web";
    view.container = "docker 3f2a1b9c0d4e";
    view.listeners = {listener("0.0.0.0", 2200)};
    h.dnat_targets = {view};
    // The RST may leave before or after the target's drop is read.
    for (bool rst_first : {false, true}) {
        std::vector<Event> events = {syn("192.0.2.1", 40000, "192.0.2.2", 2222)};
        if (rst_first) events.push_back(back);
        events.push_back(refused);
        if (!rst_first) events.push_back(back);
        auto d = run(events, h, {2222});
        ASSERT_EQ(codes(d), std::vector<std::string>{"dnat-refused"}) << rst_first;
        ASSERT_EQ(d.flows.size(), 1u);
        EXPECT_EQ(d.flows[0].nat_netns, kNetns + 7);
        const Cause& c = d.causes[0];
        EXPECT_NE(c.summary.find("nothing listens on 198.51.100.2:22 in netns web (docker 3f2a1b9c0d4e)"), std::string::npos)
            << c.summary;
        EXPECT_TRUE(any_contains(c.evidence, "listening there: sshd (pid 812) on 0.0.0.0:2200 (not :22)"));
        EXPECT_EQ(c.fix[1], "see what listens there: ip netns exec web ss -ltnp");
        EXPECT_TRUE(any_contains(c.fix, "docker logs 3f2a1b9c0d4e"));
        // Never the host's own sshd to start: the host's port has no listener of its own by design.
        EXPECT_FALSE(any_contains(c.fix, "systemctl"));
    }
    // Another client end's refusal inside the container does not join.
    Event other = refused;
    other.sport = 40001;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222), other}, h, {2222});
    EXPECT_EQ(codes(d), std::vector<std::string>{"unanswered"});
}

// --all-netns: the host (:2222) and the container (198.51.100.2:22, sshd there or not) are both
// watched; the kernel marks the SYN's second arrival, in the container, as sent on (sent_on).
constexpr uint32_t kContainerNetns = kNetns + 7;

Event in_container(Event e) {
    e.netns = kContainerNetns;
    e.ifname = "eth0";
    return e;
}

DiagnosisInput all_netns_input(std::vector<Event> events, std::vector<Listener> container_listeners) {
    HostSnapshot container;
    container.netns = kContainerNetns;
    container.addresses = {ip("198.51.100.2")};
    container.listeners = std::move(container_listeners);
    DiagnosisInput in;
    in.ports = {22, 2222};
    in.events = std::move(events);
    in.hosts = {host_with({}), container};
    return in;
}

Event sent_on_syn(uint16_t sport, uint64_t ts = 1100) {
    Event e = in_container(syn("192.0.2.1", sport, "198.51.100.2", 22, ts));
    e.sent_on = true;
    return e;
}

TEST(Diagnose, AllNetnsAHandshakeBehindDnatIsOneAcceptedFlowNotAnIncompleteOne) {
    auto d = diagnose(all_netns_input(
        {syn("192.0.2.1", 40000, "192.0.2.2", 2222), sent_on_syn(40000),
         in_container(ev(EventKind::tx_synack, "192.0.2.1", 40000, "198.51.100.2", 22, 1200)),
         ev(EventKind::tx_synack, "192.0.2.1", 40000, "192.0.2.2", 2222, 1300),
         in_container(ev(EventKind::established, "192.0.2.1", 40000, "198.51.100.2", 22, 1400))},
        {listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    ASSERT_EQ(d.flows.size(), 1u);
    EXPECT_EQ(d.syns_seen, 1u);
    EXPECT_EQ(d.flows[0].dport, 2222);
    ASSERT_TRUE(d.flows[0].nat_dst);
    EXPECT_EQ(d.flows[0].nat_dst->str(), "198.51.100.2");
    EXPECT_EQ(d.flows[0].nat_dport, 22);
    EXPECT_EQ(d.flows[0].nat_netns, kContainerNetns);
    EXPECT_NE(d.flows[0].detail.find("followed through DNAT to 198.51.100.2:22 in netns"), std::string::npos);
}

TEST(Diagnose, AllNetnsARefusalInsideTheContainerIsDnatRefusedNotNothingOnTheHostsPort) {
    Event refused = in_container(drop("192.0.2.1", 40000, "198.51.100.2", "NO_SOCKET", "tcp_v4_rcv+0x81"));
    refused.tcp_flags = 0x02;
    Event container_rst = in_container(rst("192.0.2.1", 40000, "198.51.100.2"));
    Event container_wire_rst = in_container(ev(EventKind::tx_rst, "192.0.2.1", 40000, "198.51.100.2", 22, 1150));
    Event host_wire_rst = ev(EventKind::tx_rst, "192.0.2.1", 40000, "192.0.2.2", 2222, 1200);
    auto d = diagnose(all_netns_input({syn("192.0.2.1", 40000, "192.0.2.2", 2222), sent_on_syn(40000), container_rst,
                                       refused, container_wire_rst, host_wire_rst},
                                      {}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"dnat-refused"});
    ASSERT_EQ(d.flows.size(), 1u);
    EXPECT_EQ(d.syns_seen, 1u);
    EXPECT_EQ(d.flows[0].nat_netns, kContainerNetns);
    EXPECT_EQ(d.causes[0].summary.find("nothing listens on port 2222"), std::string::npos) << d.causes[0].summary;
    EXPECT_FALSE(any_contains(d.causes[0].fix, "systemctl"));
}

TEST(Diagnose, AllNetnsASentOnSynWithNoOpenFlowIsAFlowOfItsOwn) {
    // The host's flow was refused already (the kernel's mark came from a second-old SYN of the
    // same client end): the container's SYN is judged on its own.
    Event late = sent_on_syn(40000, 1000 + 1'500'000'000ULL);
    auto d = diagnose(all_netns_input(
        {syn("192.0.2.1", 40000, "192.0.2.2", 2222), rst("192.0.2.1", 40000, "192.0.2.2", 2222), late,
         in_container(ev(EventKind::established, "192.0.2.1", 40000, "198.51.100.2", 22, 1000 + 1'600'000'000ULL))},
        {listener("0.0.0.0", 22)}));
    EXPECT_EQ(d.flows.size(), 2u);
    EXPECT_EQ(d.syns_seen, 2u);
}

TEST(Diagnose, ADropElsewhereJoinsOnlyTheSynItFollowsAtOnce) {
    // The same client end refused in some container 2 s after the flow's SYN: another connection
    // (CGNAT reuses client ends), not this flow's DNAT target.
    Event late = drop("192.0.2.1", 40000, "172.17.0.5", "NO_SOCKET", "tcp_v4_rcv+0x81", 8080);
    late.netns = kNetns + 9;
    late.tcp_flags = 0x02;
    late.ts_ns = 1000 + 2'000'000'000ULL;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222, 1000), late}, host_with({}), {2222});
    EXPECT_EQ(codes(d), std::vector<std::string>{"unanswered"});
}

TEST(Diagnose, ARedirectHereToAPortNothingListensOnIsDnatRefused) {
    // PREROUTING REDIRECT :22 -> :2222 (a honeypot that is down), sshd on :22: the port the
    // client chose has its listener; the refusal is at :2222.
    Event refused = drop("192.0.2.1", 40000, "192.0.2.2", "NO_SOCKET", "tcp_v4_rcv+0x81", 22);
    refused.tcp_flags = 0x02;
    refused.nat_dst = ip("192.0.2.2");
    refused.nat_dport = 2222;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), refused}, host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"dnat-refused"});
    const Cause& c = d.causes[0];
    EXPECT_NE(c.summary.find("nothing listens on 192.0.2.2:2222 in this namespace"), std::string::npos) << c.summary;
    EXPECT_TRUE(any_contains(c.evidence, "listening there: sshd (pid 812) on 0.0.0.0:22 (not :2222)"));
    EXPECT_EQ(c.fix[1], "see what listens here: ss -ltnp");
}

// A VIP routed to this host and DNATed to its own address: the kernel details the SYN with both
// tuples once the namespace handles it (the SYN arrived to an address not its own).
Event vip_syn(uint16_t sport) {
    Event e = syn("192.0.2.1", sport, "203.0.113.10");
    e.nat_dst = ip("192.0.2.2");
    e.nat_dport = 22;
    return e;
}

TEST(Diagnose, AVipDnatedHereIsThisHostsOwnFlowAcceptedHere) {
    // The handshake and a SYN-ACK retransmission carry the address the DNAT gave it.
    auto d = run({vip_syn(40000), ev(EventKind::tx_synack, "192.0.2.1", 40000, "203.0.113.10", 22, 1001),
                  ev(EventKind::synack_retrans, "192.0.2.1", 40000, "192.0.2.2", 22, 1002),
                  ev(EventKind::established, "192.0.2.1", 40000, "192.0.2.2", 22, 1003)},
                 host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    ASSERT_EQ(d.flows.size(), 1u);
    EXPECT_EQ(d.syns_seen, 1u);
    EXPECT_EQ(d.syns_forwarded, 0u);
    EXPECT_EQ(d.flows[0].dst.str(), "203.0.113.10");
    ASSERT_TRUE(d.flows[0].nat_dst);
    EXPECT_EQ(d.flows[0].nat_dst->str(), "192.0.2.2");
    EXPECT_EQ(d.flows[0].nat_netns, 0u);
    EXPECT_EQ(d.flows[0].detail.find("in netns"), std::string::npos) << d.flows[0].detail;  // accepted here
    // The same client end connecting to the host's own address later is a flow of its own.
    auto two = run({vip_syn(40000), ev(EventKind::established, "192.0.2.1", 40000, "192.0.2.2", 22, 1003),
                    syn("192.0.2.1", 40000, "192.0.2.2", 22, 5000)},
                   host_with({listener("0.0.0.0", 22)}));
    EXPECT_EQ(two.flows.size(), 2u);
    EXPECT_EQ(two.syns_seen, 2u);
}

TEST(Diagnose, AVipDnatedHereAndDroppedIsJudgedNotPassedThrough) {
    Event dropped = drop("192.0.2.1", 40000, "203.0.113.10", "NETFILTER_DROP", "nft_do_chain+0x46f");
    dropped.tcp_flags = 0x02;
    dropped.nat_dst = ip("192.0.2.2");
    dropped.nat_dport = 22;
    auto d = run({vip_syn(40000), dropped}, host_with({listener("0.0.0.0", 22)}));
    EXPECT_EQ(codes(d), std::vector<std::string>{"firewall-drop"});
    EXPECT_EQ(d.syns_seen, 1u);
    EXPECT_EQ(d.syns_forwarded, 0u);
    // A DNAT to another host (a VM behind this one) still passes through.
    Event elsewhere = vip_syn(40001);
    elsewhere.nat_dst = ip("198.51.100.7");
    auto f = run({elsewhere}, host_with({listener("0.0.0.0", 22)}));
    EXPECT_EQ(f.syns_seen, 0u);
    EXPECT_EQ(f.syns_forwarded, 1u);
}

TEST(Diagnose, AVipDnatedHereToNothingIsDnatRefusedAlsoWhenTheDropHasOnlyTheNewTuple) {
    // 5.10, IPv6: the SYN is freed in tcp_v6_rcv without its conntrack entry and no reason; the
    // drop carries the address the DNAT gave it, the RST left with the VIP's.
    Event refused = drop("2001:db8::1", 40000, "2001:db8::2", "", "tcp_v6_rcv+0x81");
    refused.tcp_flags = 0x02;
    Event vip = syn("2001:db8::1", 40000, "2001:db8:9::10");
    vip.nat_dst = ip("2001:db8::2");
    vip.nat_dport = 22;
    Event back = ev(EventKind::tx_rst, "2001:db8::1", 40000, "2001:db8:9::10", 22, 1002);
    auto d = run({vip, back, refused}, host_with({}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"dnat-refused"});
    EXPECT_NE(d.causes[0].summary.find("nothing listens on [2001:db8::2]:22 in this namespace"), std::string::npos)
        << d.causes[0].summary;
}

TEST(Diagnose, AllNetnsAVipHandshakeInItsOwnNamespaceIsAcceptedHere) {
    // --all-netns: the SYN is detailed at its arrival, before the DNAT (no second tuple yet);
    // the handshake in the same namespace with the new destination completes it there.
    auto d = run({syn("192.0.2.1", 40000, "203.0.113.10"), ev(EventKind::tx_synack, "192.0.2.1", 40000, "203.0.113.10", 22, 1001),
                  ev(EventKind::established, "192.0.2.1", 40000, "192.0.2.2", 22, 1003)},
                 host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    ASSERT_EQ(d.flows.size(), 1u);
    ASSERT_TRUE(d.flows[0].nat_dst);
    EXPECT_EQ(d.flows[0].nat_dst->str(), "192.0.2.2");
    EXPECT_EQ(d.flows[0].detail.find("in netns"), std::string::npos) << d.flows[0].detail;
}

TEST(Diagnose, ARefusalBehindDnatOnAKernelWithoutDropReasons) {
    // 5.10: the container's drop has no reason; its place and the RST leaving the host tell.
    Event refused = drop("192.0.2.1", 40000, "198.51.100.2", "", "tcp_v4_rcv+0x81");
    refused.netns = kNetns + 7;
    refused.tcp_flags = 0x02;
    Event back = ev(EventKind::tx_rst, "192.0.2.1", 40000, "192.0.2.2", 2222, 1002);
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222), refused, back}, host_with({}), {2222});
    ASSERT_EQ(codes(d), std::vector<std::string>{"dnat-refused"});
    EXPECT_NE(d.flows[0].detail.find("inferred NO_SOCKET"), std::string::npos) << d.flows[0].detail;
}

TEST(Diagnose, FullConntrackTableIsAKernelDropNotARule) {
    HostSnapshot h = host_with({listener("0.0.0.0", 22)});
    h.conntrack_count = 65536;
    h.conntrack_max = 65536;
    auto d = run({syn("192.0.2.1", 1, "192.0.2.2"), drop("192.0.2.1", 1, "192.0.2.2", "NETFILTER_DROP", "nf_hook_slow+0x7d")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"kernel-drop"});
    EXPECT_NE(d.causes[0].summary.find("conntrack table is full (65536/65536)"), std::string::npos);
    EXPECT_TRUE(any_contains(d.causes[0].fix, "nf_conntrack_max=131072"));
    // Not full: the same drop is the firewall's.
    h.conntrack_count = 10;
    EXPECT_EQ(codes(run({syn("192.0.2.1", 1, "192.0.2.2"),
                         drop("192.0.2.1", 1, "192.0.2.2", "NETFILTER_DROP", "nf_hook_slow+0x7d")}, h)),
              std::vector<std::string>{"firewall-drop"});
}

TEST(Diagnose, AnSshdOnAWatchedPortIsNotElsewhereForAnotherWatchedPort) {
    // Watching :22 (sshd there) and :2525 (an application, down): :2525 has no listener; sshd is
    // where it is expected, not "elsewhere".
    HostSnapshot h = host_with({listener("0.0.0.0", 22)});
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 2525), rst("192.0.2.1", 40000, "192.0.2.2", 2525)}, h,
                 {22, 2525});
    EXPECT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    // Watching :22 only, sshd on :2222: elsewhere.
    HostSnapshot other = host_with({listener("0.0.0.0", 2222)});
    d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, other, {22});
    EXPECT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});
}

TEST(Diagnose, SynAckDroppedOnTheWayOutIsReplyDropped) {
    Event out = drop("192.0.2.1", 40000, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x46f");
    out.outbound = true;
    out.tcp_flags = 0x12;  // SYN-ACK
    Event sent = ev(EventKind::tx_synack, "192.0.2.1", 40000, "192.0.2.2", 22, 1001);
    sent.outbound = true;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), sent, out}, host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"reply-dropped"});
    EXPECT_NE(d.flows[0].detail.find("the reply (SYN-ACK) was dropped on the way out"), std::string::npos)
        << d.flows[0].detail;
    EXPECT_TRUE(any_contains(d.causes[0].fix, "sport 22"));
}

TEST(Diagnose, OutputRuleFromTheTraceIsNamedInTheReplyDroppedFix) {
    Event out = drop("192.0.2.1", 40000, "192.0.2.2", "NETFILTER_DROP", "nft_do_chain+0x46f");
    out.outbound = true;
    out.tcp_flags = 0x12;
    Event verdict = ev(EventKind::firewall_verdict, "192.0.2.1", 40000, "192.0.2.2", 22, 1002);
    verdict.outbound = true;
    FirewallRule r;
    r.backend = "nftables";
    r.family = "inet";
    r.table = "lab_filter";
    r.chain = "output";
    r.handle = 4;
    r.text = "tcp sport 22 tcp flags syn,ack drop comment \"no-synack\"";
    r.comment = "no-synack";
    r.verdict = "drop";
    verdict.rule = r;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), out, verdict}, host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"reply-dropped"});
    ASSERT_TRUE(d.causes[0].rule);
    EXPECT_EQ(d.causes[0].rule->chain, "output");
    EXPECT_TRUE(any_contains(d.causes[0].fix, "nft delete rule inet lab_filter output handle 4"));
}

TEST(Diagnose, ReplyDroppedByANonNetfilterReasonIsAKernelDrop) {
    Event out = drop("192.0.2.1", 40000, "192.0.2.2", "TC_EGRESS", "tcf_classify+0x10");
    out.outbound = true;
    out.tcp_flags = 0x12;
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), out}, host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"kernel-drop"});
}

TEST(Diagnose, AnOtherNetnsSearchCutShortIsSaidInTheEvidence) {
    // No listener found here nor in the namespaces searched: the verdict stands, but the report
    // must say that some namespaces were never looked into.
    HostSnapshot h = host_with({});
    h.probe_errors.push_back(std::string("1492 of 2004") + std::string(other_netns_not_searched) +
                             " (at most 512 are entered, those where processes run first)");
    h.probe_errors.push_back("an unrelated probe error");
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "1492 of 2004 other network namespaces not searched"));
    EXPECT_FALSE(any_contains(d.causes[0].evidence, "an unrelated probe error"));
}

TEST(Diagnose, ALaterHandshakeFromTheSameClientEndDoesNotUndoARefusal) {
    // CGNAT reuses client ports: 192.0.2.1:40000 is refused on :22, then the same end completes
    // a handshake to :2222 (another flow, seen without its SYN). The refusal stays a refusal.
    Event later = ev(EventKind::established, "192.0.2.1", 40000, "192.0.2.2", 2222, 5'000'000'000);
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), rst("192.0.2.1", 40000, "192.0.2.2"), later},
                 host_with({listener("0.0.0.0", 2222)}), {22, 2222});
    ASSERT_EQ(d.flows.size(), 1u);
    EXPECT_EQ(d.flows[0].dport, 22);
    EXPECT_EQ(codes(d), std::vector<std::string>{"no-listener"});
}

TEST(Diagnose, AHandshakeBehindDnatJoinsOnlyARecentUnsettledSyn) {
    Event est = ev(EventKind::established, "192.0.2.1", 40000, "198.51.100.2", 22, 200'000'000'000);
    est.netns = kNetns + 7;  // the container's namespace
    // A SYN two minutes before the handshake is not its origin: TCP gives up on a SYN long before.
    auto stale = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222, 80'000'000'000), est}, host_with({}), {2222});
    EXPECT_EQ(codes(stale), std::vector<std::string>{"unanswered"});
    // A SYN after the handshake cannot be its origin either.
    auto after = run({syn("192.0.2.1", 40000, "192.0.2.2", 2222, 201'000'000'000), est}, host_with({}), {2222});
    EXPECT_EQ(codes(after), std::vector<std::string>{"unanswered"});
    // Of two unsettled SYNs from that end, the most recent one is the handshake's.
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2", 2200, 150'000'000'000),
                  syn("192.0.2.1", 40000, "192.0.2.2", 2222, 199'000'000'000), est},
                 host_with({}), {2200, 2222});
    ASSERT_EQ(d.flows.size(), 2u);
    for (const auto& f : d.flows)
        EXPECT_EQ(f.verdict, f.dport == 2222 ? "accepted" : "unanswered") << f.dport;
}

namespace {
// A SYN that iptables-legacy dropped, from `client` on `ifname`.
std::vector<Event> legacy_dropped_syn(const char* client, uint16_t sport, const char* ifname) {
    std::vector<Event> events = {syn(client, sport, "192.0.2.2"),
                                 drop(client, sport, "192.0.2.2", "NETFILTER_DROP", "ipt_do_table+0x1a0")};
    for (auto& e : events) e.ifname = ifname;
    return events;
}

DiagnosisInput legacy_input(std::vector<Event> events, const std::string& save_before, const std::string& save_after) {
    HostSnapshot h = host_with({listener("0.0.0.0", 22)});
    h.iptables_legacy_present = true;
    DiagnosisInput in;
    in.ports = {22};
    in.events = std::move(events);
    in.hosts = {h};
    in.legacy_rules.before = firewall::parse_iptables_save(save_before, "ip");
    in.legacy_rules.after = firewall::parse_iptables_save(save_after, "ip");
    return in;
}

std::string legacy_save(int first_pkts, int second_pkts, const char* first, const char* second) {
    return fmt::format("*filter\n:INPUT ACCEPT [0:0]\n[{}:0] -A INPUT {} -j DROP\n[{}:0] -A INPUT {} -j DROP\nCOMMIT\n",
                       first_pkts, first, second_pkts, second);
}
}  // namespace

TEST(Diagnose, TwoFlowsDroppedByTwoLegacyRulesGetEachTheirRuleAndFix) {
    const char* by_net = "-s 203.0.113.0/24 -p tcp -m tcp --dport 22";
    const char* by_if = "-i wg0 -p tcp -m tcp --dport 22";
    auto events = legacy_dropped_syn("203.0.113.7", 40000, "eth0");
    auto more = legacy_dropped_syn("198.51.100.9", 40001, "wg0");
    events.insert(events.end(), more.begin(), more.end());
    auto d = diagnose(legacy_input(events, legacy_save(0, 0, by_net, by_if), legacy_save(1, 1, by_net, by_if)));
    ASSERT_EQ(d.flows.size(), 2u);
    for (const auto& f : d.flows) {
        ASSERT_TRUE(f.rule) << f.src.str();
        EXPECT_EQ(f.rule->rule_num, f.src == ip("203.0.113.7") ? 1u : 2u) << f.src.str();
    }
    ASSERT_EQ(d.causes.size(), 2u);
    std::vector<std::string> fixes = {d.causes[0].fix.front(), d.causes[1].fix.front()};
    std::sort(fixes.begin(), fixes.end());
    EXPECT_EQ(fixes, (std::vector<std::string>{"iptables-legacy -t filter -D INPUT 1", "iptables-legacy -t filter -D INPUT 2"}));
}

TEST(Diagnose, ALegacyRuleNotSingledOutIsShownByItsChainAndNoRuleIsDeleted) {
    // Two rules whose matches synwhy cannot evaluate both grew: either may have dropped the SYN.
    const char* recent = "-p tcp -m tcp --dport 22 -m recent --update --seconds 60 --name ssh --rsource";
    const char* set = "-m set --match-set blocklist src";
    auto d = diagnose(legacy_input(legacy_dropped_syn("192.0.2.1", 40000, "eth0"), legacy_save(0, 0, recent, set),
                                   legacy_save(1, 1, recent, set)));
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-drop"});
    ASSERT_TRUE(d.flows[0].rule);
    EXPECT_EQ(d.flows[0].rule->rule_num, 0u);
    const Cause& c = d.causes[0];
    EXPECT_NE(c.summary.find("table filter chain INPUT: a rule in this chain or in a chain it jumps to, or its policy"), std::string::npos) << c.summary;
    EXPECT_EQ(c.summary.find("rule 0"), std::string::npos) << c.summary;
    ASSERT_FALSE(c.fix.empty());
    EXPECT_NE(c.fix.front().find("iptables-legacy -L INPUT -v -n --line-numbers"), std::string::npos) << c.fix.front();
    for (const auto& line : c.fix)
        for (const char* unproven : {"-D INPUT 0", "-D INPUT 1", "-D INPUT 2"})
            EXPECT_EQ(line.find(unproven), std::string::npos) << line;
}

// The packet-socket capture (and kernels without tcp_send_reset for a socketless RST) sees only
// the RST leaving: the refusal is read against the listeners like TCP's own.
TEST(Diagnose, WireRstAloneIsReadAgainstTheListeners) {
    auto wire_rst = [] {
        Event e = ev(EventKind::tx_rst, "192.0.2.1", 40000, "192.0.2.2", 22, 1001);
        e.outbound = true;
        e.tcp_flags = 0x14;
        return e;
    };
    auto d = run({syn("192.0.2.1", 40000, "192.0.2.2"), wire_rst()}, host_with({}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_NE(d.flows[0].detail.find("nothing listens on 192.0.2.2:22"), std::string::npos) << d.flows[0].detail;
    EXPECT_NE(d.flows[0].detail.find("inferred"), std::string::npos);

    d = run({syn("192.0.2.1", 40000, "192.0.2.2"), wire_rst()}, host_with({listener("0.0.0.0", 2222)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});

    d = run({syn("192.0.2.1", 40000, "192.0.2.2"), wire_rst()}, host_with({listener("127.0.0.1", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"bound-other-address"});

    // A listener takes the SYN, yet a RST answered: not TCP's refusal, and never "nothing listens".
    d = run({syn("192.0.2.1", 40000, "192.0.2.2"), wire_rst()}, host_with({listener("0.0.0.0", 22)}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-reject"});
    EXPECT_NE(d.flows[0].detail.find("no rule was named"), std::string::npos) << d.flows[0].detail;
}
