// synwhy probe's decision: hand-made probe results -> verdict, evidence, next commands.
#include <gtest/gtest.h>

#include <cerrno>

#include "probe/verdict.h"

namespace synwhy::probe {
namespace {

Handshake answer(Answer a, uint16_t port = 22, std::optional<int> ttl = {}) {
    Handshake h;
    h.port = port;
    h.answer = a;
    h.ttl = ttl;
    h.syns_sent = a == Answer::none ? 3 : 1;
    return h;
}

Handshake ssh_banner(uint16_t port = 22) {
    Handshake h = answer(Answer::syn_ack, port, 63);
    h.banner = Banner::ssh;
    h.banner_text = "SSH-2.0-OpenSSH_9.2p1";
    return h;
}

Handshake icmp(const std::string& from, int type, int code) {
    Handshake h = answer(Answer::icmp, 22, 64);
    h.from = from;
    h.icmp_type = type;
    h.icmp_code = code;
    return h;
}

AddressProbe address(const std::string& addr, int family, Handshake ssh, Source source = Source::nss) {
    AddressProbe a;
    a.addr = addr;
    a.family = family;
    a.source = source;
    if (ssh.from.empty() && ssh.answer != Answer::none) ssh.from = addr;
    a.ssh = ssh;
    return a;
}

ProbeResult result(std::vector<AddressProbe> addresses, uint16_t port = 22) {
    ProbeResult r;
    r.host = r.target = "srv.example";
    r.ssh.known = true;
    r.ssh.hostname = "srv.example";
    r.ssh.port = port;
    r.ssh.port_origin.how = "default";
    r.addresses = std::move(addresses);
    return r;
}

bool any_next_matches(const Verdict& v, const std::string& needle) {
    for (const auto& n : v.next)
        if (n.command.find(needle) != std::string::npos) return true;
    return false;
}

TEST(ProbeVerdict, SshBannerIsReachableAndSaysSshDashV) {
    Verdict v = decide(result({address("198.51.100.66", 4, ssh_banner())}));
    EXPECT_EQ(v.code, "reachable");
    EXPECT_NE(v.summary.find("SSH-2.0-OpenSSH_9.2p1"), std::string::npos);
    ASSERT_FALSE(v.next.empty());
    EXPECT_EQ(v.next[0].command, "ssh -v srv.example");
}

TEST(ProbeVerdict, RstWithoutTtlsIsRefusedByHostWithServerCommand) {
    Verdict v = decide(result({address("198.51.100.66", 4, answer(Answer::rst))}));
    EXPECT_EQ(v.code, "refused-by-host");
    ASSERT_FALSE(v.next.empty());
    EXPECT_EQ(v.next[0].command, "synwhy report --port 22");
    EXPECT_NE(v.next[0].why.find("srv.example's console"), std::string::npos);
    // Without the RST's TTL a forged RST looks the same: say so, and how to tell.
    EXPECT_NE(v.summary.find("a box in the path can forge it"), std::string::npos);
    EXPECT_TRUE(any_next_matches(v, "sudo synwhy probe srv.example"));
}

TEST(ProbeVerdict, RstWithTheHostsTtlIsRefusedByHost) {
    AddressProbe a = address("198.51.100.66", 4, answer(Answer::rst, 22, 63));
    a.also.push_back(answer(Answer::rst, 443, 63));
    Verdict v = decide(result({a}));
    EXPECT_EQ(v.code, "refused-by-host");
    EXPECT_NE(v.summary.find("TTL 63, as its rst on :443"), std::string::npos) << v.summary;
    // Every answer a RST: a box resetting every port looks the same, and the report says so.
    EXPECT_NE(v.summary.find("traceroute -n -T -p 22"), std::string::npos) << v.summary;
    EXPECT_FALSE(any_next_matches(v, "sudo"));
    // A SYN-ACK of the host's own at the same distance: the host, without the doubt.
    AddressProbe b = address("198.51.100.66", 4, answer(Answer::rst, 22, 63));
    b.also.push_back(answer(Answer::syn_ack, 443, 63));
    Verdict w = decide(result({b}));
    EXPECT_EQ(w.code, "refused-by-host");
    EXPECT_NE(w.summary.find("TTL 63 like its syn-ack on :443"), std::string::npos) << w.summary;
}

TEST(ProbeVerdict, TtlsAreComparedAsHopsNotValues) {
    // A Windows host 5 hops away: RST at 123 and SYN-ACK at 123; a Linux box 2 hops away forging
    // the RST: 62, fewer hops than the host's 5.
    AddressProbe same = address("198.51.100.66", 4, answer(Answer::rst, 22, 123));
    same.also.push_back(answer(Answer::syn_ack, 443, 123));
    EXPECT_EQ(decide(result({same})).code, "refused-by-host");
    AddressProbe forged = address("198.51.100.66", 4, answer(Answer::rst, 22, 62));
    forged.also.push_back(answer(Answer::syn_ack, 443, 123));
    Verdict v = decide(result({forged}));
    EXPECT_EQ(v.code, "refused-in-path");
    EXPECT_NE(v.summary.find("TTL 62 (2 hops)"), std::string::npos) << v.summary;
    // A host answering with another initial TTL on another port, at the same distance: not a box.
    AddressProbe mixed = address("198.51.100.66", 4, answer(Answer::rst, 22, 62));
    mixed.also.push_back(answer(Answer::syn_ack, 443, 253));
    EXPECT_EQ(decide(result({mixed})).code, "refused-by-host");
}

TEST(ProbeVerdict, IcmpUnreachableFromTheHostItselfIsTheHostsRefusal) {
    // The host's firewall: reject with icmp host-unreachable.
    Handshake h = answer(Answer::icmp);
    h.from = "198.51.100.66";
    h.icmp_type = 3;
    h.icmp_code = 1;
    EXPECT_EQ(decide(result({address("198.51.100.66", 4, h)})).code, "refused-by-host");
    // A router's host unreachable: the host is down or nobody holds the address, not a missing route.
    h.from = "198.51.100.62";
    Verdict v = decide(result({address("198.51.100.66", 4, h)}));
    EXPECT_EQ(v.code, "no-route");
    EXPECT_NE(v.summary.find("the host is down, or nobody holds the address"), std::string::npos) << v.summary;
    EXPECT_TRUE(any_next_matches(v, "ping -c 3 198.51.100.66"));
}

TEST(ProbeVerdict, ThisMachinesOwnFirewallIsNotARoute) {
    Handshake h = answer(Answer::local_error);
    h.error = "Operation not permitted";
    h.error_number = EPERM;
    Verdict v = decide(result({address("198.51.100.66", 4, h)}));
    EXPECT_EQ(v.code, "refused-in-path");
    EXPECT_NE(v.summary.find("this machine's own firewall"), std::string::npos) << v.summary;
    EXPECT_EQ(v.next[0].command, "nft list ruleset");
}

TEST(ProbeVerdict, RstWithAnotherTtlThanTheHostsAnswersIsRefusedInPath) {
    AddressProbe a = address("198.51.100.66", 4, answer(Answer::rst, 22, 64));
    a.also.push_back(answer(Answer::syn_ack, 443, 63));
    Verdict v = decide(result({a}));
    EXPECT_EQ(v.code, "refused-in-path");
    EXPECT_NE(v.summary.find("TTL 64"), std::string::npos);
    EXPECT_NE(v.summary.find("TTL 63"), std::string::npos);
    EXPECT_TRUE(any_next_matches(v, "traceroute -n -T -p 22 198.51.100.66"));
}

TEST(ProbeVerdict, IcmpAdminProhibitedFromARouterIsRefusedInPathNamingIt) {
    Verdict v = decide(result({address("198.51.100.66", 4, icmp("198.51.100.62", 3, 13))}));
    EXPECT_EQ(v.code, "refused-in-path");
    EXPECT_NE(v.summary.find("198.51.100.62, not the host"), std::string::npos);
    EXPECT_NE(v.summary.find("admin prohibited"), std::string::npos);
}

TEST(ProbeVerdict, IcmpFromTheHostItselfIsRefusedByHost) {
    Verdict v = decide(result({address("2001:db8::2", 6, icmp("2001:db8::2", 1, 4))}));
    EXPECT_EQ(v.code, "refused-by-host");
    EXPECT_NE(v.summary.find("port unreachable"), std::string::npos);
}

TEST(ProbeVerdict, NetUnreachableIsNoRouteWithTraceroute) {
    Verdict v4 = decide(result({address("198.51.100.66", 4, icmp("198.51.100.62", 3, 0))}));
    EXPECT_EQ(v4.code, "no-route");
    EXPECT_TRUE(any_next_matches(v4, "traceroute -n 198.51.100.66"));
    Verdict v6 = decide(result({address("2001:db8::2", 6, icmp("2001:db8:1::ffff", 1, 0))}));
    EXPECT_EQ(v6.code, "no-route");
    EXPECT_NE(v6.summary.find("2001:db8:1::ffff"), std::string::npos);
}

TEST(ProbeVerdict, LocalErrorIsNoRouteWithIpRouteGet) {
    Handshake h = answer(Answer::local_error);
    h.error = "Network is unreachable";
    Verdict v = decide(result({address("198.51.100.66", 4, h)}));
    EXPECT_EQ(v.code, "no-route");
    EXPECT_TRUE(any_next_matches(v, "ip route get 198.51.100.66"));
}

TEST(ProbeVerdict, SilenceIsDroppedAndTheOtherPortsSayTheHostIsUp) {
    AddressProbe a = address("198.51.100.66", 4, answer(Answer::none));
    a.also.push_back(answer(Answer::syn_ack, 443, 63));
    a.also.back().from = "198.51.100.66";
    Verdict v = decide(result({a}));
    EXPECT_EQ(v.code, "dropped");
    EXPECT_NE(v.summary.find("3 SYNs"), std::string::npos);
    ASSERT_FALSE(v.evidence.empty());
    EXPECT_NE(v.evidence[0].find("answers :443"), std::string::npos);
    EXPECT_TRUE(any_next_matches(v, "synwhy report --port 22"));
    EXPECT_TRUE(any_next_matches(v, "synwhy probe srv.example"));
}

TEST(ProbeVerdict, ProbeAgainKeepsTheUsersConfigFileAndPort) {
    ProbeResult r = result({address("198.51.100.66", 4, answer(Answer::none, 2222))}, 2222);
    r.config_file = "lab.conf";
    r.command_line_port = 2222;
    Verdict v = decide(r);
    EXPECT_EQ(v.code, "dropped");
    EXPECT_TRUE(any_next_matches(v, "synwhy probe -F lab.conf -p 2222 srv.example"));
}

TEST(ProbeVerdict, ClosedBeforeBannerIsRefusedByHostAndNamesMaxStartups) {
    Handshake h = answer(Answer::syn_ack, 22, 63);
    h.banner = Banner::closed;
    Verdict v = decide(result({address("198.51.100.66", 4, h)}));
    EXPECT_EQ(v.code, "refused-by-host");
    EXPECT_NE(v.summary.find("closes before the SSH banner"), std::string::npos);
    EXPECT_TRUE(any_next_matches(v, "maxstartups"));
}

TEST(ProbeVerdict, NotSshIsWrongPort) {
    Handshake h = answer(Answer::syn_ack, 22, 63);
    h.banner = Banner::not_ssh;
    h.banner_text = "HTTP/1.1 400 Bad Request";
    Verdict v = decide(result({address("198.51.100.66", 4, h)}));
    EXPECT_EQ(v.code, "wrong-port");
    EXPECT_NE(v.summary.find("HTTP/1.1 400"), std::string::npos);
}

TEST(ProbeVerdict, ConfigPortFailingWhileSshAnswersOn22IsWrongPortNamingTheLine) {
    AddressProbe a = address("198.51.100.66", 4, answer(Answer::rst, 2222));
    a.default_port = ssh_banner(22);
    ProbeResult r = result({a}, 2222);
    r.ssh.port_origin = {"ssh config", "/home/u/.ssh/config", 6};
    Verdict v = decide(r);
    EXPECT_EQ(v.code, "wrong-port");
    EXPECT_NE(v.summary.find("/home/u/.ssh/config line 6"), std::string::npos);
    ASSERT_GE(v.next.size(), 2u);
    EXPECT_EQ(v.next[0].command, "ssh -p 22 srv.example");
    EXPECT_EQ(v.next[1].command, "sed -n '6p' /home/u/.ssh/config");
}

TEST(ProbeVerdict, WrongPortKeepsTheUsersConfigFileAndUserButReplacesTheirPort) {
    AddressProbe a = address("198.51.100.66", 4, answer(Answer::none, 2222));
    a.default_port = ssh_banner(22);
    ProbeResult r = result({a}, 2222);
    r.config_file = "lab.conf";
    r.user = "admin";
    r.command_line_port = 2222;
    r.ssh.port_origin = {"command line", "", 0};
    Verdict v = decide(r);
    EXPECT_EQ(v.code, "wrong-port");
    EXPECT_EQ(v.next[0].command, "ssh -F lab.conf -p 22 admin@srv.example");
}

TEST(ProbeVerdict, ConfigPortFailingWithNothingOn22IsNotWrongPort) {
    AddressProbe a = address("198.51.100.66", 4, answer(Answer::rst, 2222));
    a.default_port = answer(Answer::rst, 22);
    Verdict v = decide(result({a}, 2222));
    EXPECT_EQ(v.code, "refused-by-host");
}

TEST(ProbeVerdict, DeadAaaaTriedFirstIsWrongAddressNamingSshsOrder) {
    Verdict v = decide(result({address("2001:db8::3", 6, answer(Answer::rst)), address("198.51.100.66", 4, ssh_banner())}));
    EXPECT_EQ(v.code, "wrong-address");
    EXPECT_NE(v.summary.find("ssh tries 2001:db8::3 (AAAA) first"), std::string::npos);
    EXPECT_NE(v.summary.find("then 198.51.100.66 (A)"), std::string::npos);
    EXPECT_TRUE(any_next_matches(v, "ssh -4 srv.example"));
    EXPECT_TRUE(any_next_matches(v, "dig +short AAAA srv.example"));
    ASSERT_FALSE(v.evidence.empty());
    EXPECT_NE(v.evidence[0].find("moves on to the next address at once"), std::string::npos);
}

TEST(ProbeVerdict, SilentFirstAddressSaysSshWaitsBeforeTheNext) {
    Verdict v = decide(result({address("2001:db8::3", 6, answer(Answer::none)), address("198.51.100.66", 4, ssh_banner())}));
    EXPECT_EQ(v.code, "wrong-address");
    ASSERT_FALSE(v.evidence.empty());
    EXPECT_NE(v.evidence[0].find("ConnectTimeout"), std::string::npos);
}

TEST(ProbeVerdict, DeadSecondAddressIsStillWrongAddress) {
    Verdict v = decide(result({address("2001:db8::2", 6, ssh_banner()), address("198.51.100.67", 4, answer(Answer::rst))}));
    EXPECT_EQ(v.code, "wrong-address");
    EXPECT_NE(v.summary.find("ssh connects to 2001:db8::2 first"), std::string::npos);
    EXPECT_TRUE(any_next_matches(v, "dig +short A srv.example"));
}

TEST(ProbeVerdict, HostsFileOverridingDnsIsWrongAddressNamingTheLine) {
    ProbeResult r = result({address("198.51.100.200", 4, answer(Answer::none)),
                            address("198.51.100.66", 4, ssh_banner(), Source::dns_only)});
    r.resolution.hosts_file = "/etc/hosts:3";
    Verdict v = decide(r);
    EXPECT_EQ(v.code, "wrong-address");
    EXPECT_NE(v.summary.find("198.51.100.200 (from /etc/hosts:3, A)"), std::string::npos);
    EXPECT_NE(v.summary.find("DNS says 198.51.100.66"), std::string::npos);
    EXPECT_EQ(v.next[0].command, "ssh -o HostName=198.51.100.66 srv.example");  // the alias keeps its Port, User
    EXPECT_EQ(v.next[1].command, "sed -n '3p' /etc/hosts");
}

TEST(ProbeVerdict, EveryAddressFailingTakesSshsFirstAddressesVerdict) {
    Verdict v = decide(result({address("2001:db8::2", 6, answer(Answer::none)), address("198.51.100.66", 4, answer(Answer::rst))}));
    EXPECT_EQ(v.code, "dropped");
    ASSERT_EQ(v.per_address.size(), 2u);
    EXPECT_EQ(v.per_address[1].code, "refused-by-host");
}

TEST(ProbeVerdict, ProxyJumpIsNamedAndProbedNext) {
    ProbeResult r = result({address("198.51.100.66", 4, answer(Answer::none))});
    r.ssh.proxy_jump = "bastion.example,inner";
    Verdict v = decide(r);
    ASSERT_FALSE(v.evidence.empty());
    EXPECT_NE(v.evidence[0].find("ProxyJump bastion.example,inner"), std::string::npos);
    // The first line and the first next step are about the path ssh takes.
    EXPECT_EQ(v.summary.rfind("ssh goes through ProxyJump bastion.example,inner (this probe tried the direct path): ", 0), 0u)
        << v.summary;
    EXPECT_EQ(v.next[0].command, "synwhy probe bastion.example");
    EXPECT_TRUE(any_next_matches(v, "synwhy probe bastion.example"));
}

TEST(ProbeVerdict, IcmpNames) {
    EXPECT_EQ(icmp_name(4, 3, 13), "admin prohibited");
    EXPECT_EQ(icmp_name(6, 1, 1), "admin prohibited");
    EXPECT_EQ(icmp_name(4, 3, 3), "port unreachable");
    EXPECT_EQ(icmp_name(6, 1, 3), "address unreachable");
    EXPECT_EQ(icmp_name(4, 5, 1), "type 5 code 1");
    EXPECT_TRUE(icmp_is_unreachable_route(4, 3, 1));
    EXPECT_FALSE(icmp_is_unreachable_route(4, 3, 13));
    EXPECT_FALSE(icmp_is_unreachable_route(6, 1, 1));
}

TEST(ProbeVerdict, DnsAloneAnsweringIsNoReachableHost) {
    // getaddrinfo gives nothing (nsswitch without dns, a broken resolver) while DNS answers: ssh
    // cannot resolve the name, whatever the address answers.
    ProbeResult r = result({address("198.51.100.66", 4, ssh_banner(), Source::dns_only)});
    r.resolution.error = "Name or service not known";
    Verdict v = decide(r);
    EXPECT_EQ(v.code, "wrong-address");
    EXPECT_NE(v.summary.find("does not resolve on this machine (Name or service not known), while DNS says "
                             "198.51.100.66"), std::string::npos) << v.summary;
    EXPECT_EQ(v.next[0].command, "getent ahosts srv.example");
}

}  // namespace
}  // namespace synwhy::probe

