// synwhy probe's pure readers: ssh -G, ssh_config Port lines, /etc/hosts, DNS answers, banners,
// captured packets, and the probe command line.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include "cli/options.h"
#include "probe/answer_capture.h"
#include "probe/handshake.h"
#include "probe/resolve.h"
#include "probe/ssh_config.h"

namespace synwhy::probe {
namespace {

TEST(ProbeSshConfig, ParsesSshG) {
    SshSettings s = parse_ssh_g("user root\nhostname 198.51.100.66\nport 2222\naddressfamily inet6\n"
                                "proxyjump none\nproxycommand ssh -W %h:%p bastion\n");
    EXPECT_TRUE(s.known);
    EXPECT_EQ(s.hostname, "198.51.100.66");
    EXPECT_EQ(s.port, 2222);
    EXPECT_EQ(s.address_family, "inet6");
    EXPECT_EQ(s.proxy_jump, "");
    EXPECT_EQ(s.proxy_command, "ssh -W %h:%p bastion");
    EXPECT_FALSE(parse_ssh_g("port 22\n").known);
}

TEST(ProbeSshConfig, HostPatterns) {
    EXPECT_TRUE(host_patterns_match("*.example other", "db.example"));
    EXPECT_TRUE(host_patterns_match("a,b", "b"));
    EXPECT_TRUE(host_patterns_match("DB?.example", "db1.example"));
    EXPECT_FALSE(host_patterns_match("*.example !db.example", "db.example"));
    EXPECT_FALSE(host_patterns_match("web", "db"));
}

TEST(ProbeSshConfig, FindsThePortLineOfTheMatchingHostBlock) {
    std::string config = "# comment\n"
                         "Host web\n"
                         "    Port 8022\n"
                         "Host *.example\n"
                         "    User admin\n"
                         "    Port=2222\n"
                         "Host *\n"
                         "    Port 22\n";
    auto origin = find_port_line(config, "/root/.ssh/config", "db.example", 2222);
    ASSERT_TRUE(origin);
    EXPECT_EQ(origin->file, "/root/.ssh/config");
    EXPECT_EQ(origin->line, 6);
    EXPECT_EQ(find_port_line(config, "f", "web", 8022)->line, 3);
    EXPECT_EQ(find_port_line(config, "f", "other", 22)->line, 8);
    // ssh -G says another port than the line: set where this reading cannot see (a Match, an
    // Include, the command line): no line is named.
    EXPECT_FALSE(find_port_line(config, "f", "db.example", 2200));
}

TEST(ProbeSshConfig, GlobalPortAppliesAndMatchBlocksAreSkipped) {
    EXPECT_EQ(find_port_line("Port 2200\nHost x\n  Port 1\n", "f", "y", 2200)->line, 1);
    EXPECT_FALSE(find_port_line("Match user bob\n  Port 2200\n", "f", "y", 2200));
    EXPECT_EQ(find_port_line("Match all\n  Port 2200\n", "f", "y", 2200)->line, 2);
    EXPECT_FALSE(find_port_line("Host x\n  Port 2200\n", "f", "y", 2200));
    // A Match block ssh may have taken the port from comes first: the later line is not sure.
    EXPECT_FALSE(find_port_line("Match host db1\n  Port 2222\nHost *\n  Port 2222\n", "f", "db1", 2222));
    EXPECT_FALSE(find_port_line("Include ~/.ssh/config.d/*\nHost *\n  Port 2222\n", "f", "db1", 2222));
}

TEST(ProbeResolve, HostsLine) {
    std::string hosts = "127.0.0.1 localhost\n# 10.0.0.1 srv.example\n198.51.100.200\tSrv.Example srv\n";
    auto line = find_hosts_line(hosts, "srv.example");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->first, 3);
    EXPECT_EQ(line->second, "198.51.100.200");
    EXPECT_EQ(find_hosts_line(hosts, "srv")->first, 3);
    EXPECT_FALSE(find_hosts_line(hosts, "other"));
}

// A DNS response: header, one question (srv.example A), answers with a compressed name.
std::vector<uint8_t> dns_response(const std::vector<std::pair<uint16_t, std::vector<uint8_t>>>& answers) {
    std::vector<uint8_t> m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, uint8_t(answers.size()), 0, 0, 0, 0};
    for (const char* label : {"srv", "example"}) {
        m.push_back(uint8_t(strlen(label)));
        m.insert(m.end(), label, label + strlen(label));
    }
    m.insert(m.end(), {0, 0, 1, 0, 1});
    for (const auto& [type, data] : answers) {
        m.insert(m.end(), {0xc0, 12, uint8_t(type >> 8), uint8_t(type), 0, 1, 0, 0, 0, 60, 0, uint8_t(data.size())});
        m.insert(m.end(), data.begin(), data.end());
    }
    return m;
}

TEST(ProbeResolve, ParsesAAndAaaaAnswers) {
    std::vector<uint8_t> v6(16, 0);
    v6[0] = 0x20, v6[1] = 0x01, v6[2] = 0x0d, v6[3] = 0xb8, v6[15] = 2;
    auto m = dns_response({{5, {3, 'f', 'o', 'o', 0}}, {1, {198, 51, 100, 66}}, {28, v6}});
    auto got = parse_dns_answer(m);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], "198.51.100.66");
    EXPECT_EQ(got[1], "2001:db8::2");
}

TEST(ProbeResolve, TruncatedAnswerGivesWhatWasRead) {
    auto m = dns_response({{1, {198, 51, 100, 66}}, {1, {198, 51, 100, 67}}});
    m.resize(m.size() - 2);
    auto got = parse_dns_answer(m);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], "198.51.100.66");
    EXPECT_TRUE(parse_dns_answer({1, 2, 3}).empty());
}

TEST(ProbeResolve, Families) {
    EXPECT_EQ(numeric_family("198.51.100.1"), 4);
    EXPECT_EQ(numeric_family("2001:db8::1"), 6);
    EXPECT_EQ(numeric_family("srv.example"), 0);
    EXPECT_EQ(family_of_address_family("inet"), 4);
    EXPECT_EQ(family_of_address_family("inet6"), 6);
    EXPECT_EQ(family_of_address_family("any"), 0);
}

TEST(ProbeHandshake, Banners) {
    EXPECT_EQ(classify_banner("SSH-2.0-OpenSSH_9.2\r\n", false), Banner::ssh);
    EXPECT_EQ(classify_banner("HTTP/1.1 400\r\n", true), Banner::not_ssh);
    EXPECT_EQ(classify_banner("", true), Banner::closed);
    EXPECT_EQ(classify_banner("", false), Banner::silent);
    EXPECT_EQ(banner_line("SSH-2.0-x\r\nmore"), "SSH-2.0-x");
    EXPECT_EQ(banner_line(std::string("a\x1b[31mb")), "a?[31mb");
    EXPECT_EQ(banner_line(std::string(150, 'x')).size(), 103u);
}

// Packets as the packet socket gives them (from the IP header on).
std::vector<uint8_t> ipv4_tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t ttl) {
    std::vector<uint8_t> p(40, 0);
    p[0] = 0x45, p[8] = ttl, p[9] = 6;
    inet_pton(AF_INET, src, &p[12]);
    inet_pton(AF_INET, dst, &p[16]);
    p[20] = uint8_t(sport >> 8), p[21] = uint8_t(sport), p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
    p[33] = flags;
    return p;
}

Flow flow4() {
    Flow f;
    f.family = 4;
    inet_pton(AF_INET, "198.51.100.66", f.remote.data());
    f.local_port = 40000;
    f.remote_port = 22;
    return f;
}

TEST(ProbeCapture, CountsOurSynsAndReadsTheRstsTtl) {
    Flow f = flow4();
    auto syn = ipv4_tcp("198.51.100.1", "198.51.100.66", 40000, 22, tcp_syn, 64);
    auto rst = ipv4_tcp("198.51.100.66", "198.51.100.1", 22, 40000, tcp_rst | tcp_ack, 63);
    auto other = ipv4_tcp("198.51.100.66", "198.51.100.1", 22, 40001, tcp_rst | tcp_ack, 63);
    Handshake h;
    for (int i = 0; i < 2; i++) record_packet(*match_packet(syn.data(), syn.size(), true, f), h);
    EXPECT_FALSE(match_packet(syn.data(), syn.size(), false, f));  // our SYN seen coming in: not an answer
    EXPECT_FALSE(match_packet(other.data(), other.size(), false, f));
    record_packet(*match_packet(rst.data(), rst.size(), false, f), h);
    EXPECT_EQ(h.syns_sent, 2);
    EXPECT_TRUE(h.syns_counted_on_wire);
    EXPECT_EQ(h.ttl, 63);
    EXPECT_EQ(h.from, "198.51.100.66");
}

TEST(ProbeCapture, IcmpQuotingOurSynNamesTheRouter) {
    Flow f = flow4();
    auto quoted = ipv4_tcp("198.51.100.1", "198.51.100.66", 40000, 22, tcp_syn, 63);
    std::vector<uint8_t> icmp(28, 0);
    icmp[0] = 0x45, icmp[8] = 64, icmp[9] = 1;
    inet_pton(AF_INET, "198.51.100.62", &icmp[12]);
    inet_pton(AF_INET, "198.51.100.1", &icmp[16]);
    icmp[20] = 3, icmp[21] = 13;
    icmp.insert(icmp.end(), quoted.begin(), quoted.begin() + 28);
    auto seen = match_packet(icmp.data(), icmp.size(), false, f);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->kind, SeenPacket::Kind::icmp_in);
    EXPECT_EQ(seen->from, "198.51.100.62");
    EXPECT_EQ(seen->icmp_code, 13);
    Flow other = f;
    other.local_port = 40001;
    EXPECT_FALSE(match_packet(icmp.data(), icmp.size(), false, other));
}

TEST(ProbeCapture, Ipv6RstAndShortPackets) {
    Flow f;
    f.family = 6;
    inet_pton(AF_INET6, "2001:db8:7:2::2", f.remote.data());
    f.local_port = 40000;
    f.remote_port = 22;
    std::vector<uint8_t> p(60, 0);
    p[0] = 0x60, p[6] = 6, p[7] = 64;
    inet_pton(AF_INET6, "2001:db8:7:2::2", &p[8]);
    inet_pton(AF_INET6, "2001:db8:7:1::1", &p[24]);
    p[40] = 0, p[41] = 22, p[42] = 40000 >> 8, p[43] = 40000 & 0xff, p[53] = tcp_rst;
    auto seen = match_packet(p.data(), p.size(), false, f);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->ttl, 64);
    EXPECT_EQ(seen->tcp_flags, tcp_rst);
    EXPECT_FALSE(match_packet(p.data(), 30, false, f));
}

}  // namespace
}  // namespace synwhy::probe

namespace synwhy::cli {
namespace {

std::optional<int> parse(std::vector<std::string> args, CaptureOptions& o) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_command_line(int(argv.size()), argv.data(), o);
}

TEST(ProbeOptions, Targets) {
    auto t = parse_probe_target("admin@srv.example:2222");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->user, "admin");
    EXPECT_EQ(t->host, "srv.example");
    EXPECT_EQ(t->port, 2222);
    EXPECT_EQ(parse_probe_target("2001:db8::1")->host, "2001:db8::1");
    EXPECT_FALSE(parse_probe_target("2001:db8::1")->port);
    EXPECT_EQ(parse_probe_target("[2001:db8::1]:22")->port, 22);
    EXPECT_EQ(parse_probe_target("[2001:db8::1]")->host, "2001:db8::1");
    for (const char* bad : {"", "@srv", "srv:", "srv:0", "srv:70000", "[::1", "[::1]x", "-oProxyCommand=x", "a b"})
        EXPECT_FALSE(parse_probe_target(bad)) << bad;
    // The next commands carry the user and host: nothing that a shell or ssh would take as more.
    for (const char* bad : {"-oProxyCommand=id@srv", "a;b@srv", "srv;id", "$(id)", "`id`", "a|b", "srv&", "u'x@srv",
                            "srv\n", "a\tb@srv"})
        EXPECT_FALSE(parse_probe_target(bad)) << bad;
    EXPECT_TRUE(parse_probe_target("deploy-bot+ci@db1.internal.example:2222"));
}

TEST(ProbeOptions, AlsoPortsAreFew) {
    CaptureOptions o;
    EXPECT_FALSE(parse({"synwhy", "probe", "srv", "--also-port", "1", "--also-port", "2", "--also-port", "3",
                        "--also-port", "4"}, o));
    EXPECT_EQ(parse({"synwhy", "probe", "srv", "--also-port", "1", "--also-port", "2", "--also-port", "3",
                     "--also-port", "4", "--also-port", "5"}, o),
              std::optional<int>(exit_usage));
}

TEST(ProbeOptions, ParsesTheProbeCommand) {
    CaptureOptions o;
    EXPECT_FALSE(parse({"synwhy", "probe", "root@srv.example", "-p", "2222", "--timeout", "2s", "--also-port", "8443",
                        "--also-port", "8443", "-F", "lab.conf", "-6", "--json"}, o));
    EXPECT_EQ(o.mode, Mode::probe);
    EXPECT_EQ(o.probe.user, "root");
    EXPECT_EQ(o.probe.host, "srv.example");
    EXPECT_EQ(o.probe.port, 2222);
    EXPECT_EQ(o.probe.timeout, std::chrono::milliseconds(2000));
    EXPECT_EQ(o.probe.also_ports, std::vector<uint16_t>{8443});
    EXPECT_EQ(o.probe.ssh_config, "lab.conf");
    EXPECT_EQ(o.probe.family, 6);
    EXPECT_TRUE(o.json);
}

TEST(ProbeOptions, DefaultsAndUsageErrors) {
    CaptureOptions o;
    EXPECT_FALSE(parse({"synwhy", "probe", "srv"}, o));
    EXPECT_EQ(o.probe.timeout, std::chrono::milliseconds(5000));
    EXPECT_TRUE(o.probe.also_ports.empty());
    EXPECT_FALSE(o.probe.port);
    for (std::vector<std::string> bad :
         {std::vector<std::string>{"synwhy", "probe"}, {"synwhy", "probe", "srv", "-p", "0"},
          {"synwhy", "probe", "srv:22", "-p", "2222"}, {"synwhy", "probe", "srv", "--timeout", "5y"},
          {"synwhy", "probe", "srv", "--timeout", "3m"}, {"synwhy", "probe", "srv", "--also-port", "x"},
          {"synwhy", "probe", "srv", "-4", "-6"}, {"synwhy", "probe", "srv:99999"}}) {
        CaptureOptions bad_options;
        EXPECT_EQ(parse(bad, bad_options), exit_usage) << bad.back();
    }
}

}  // namespace
}  // namespace synwhy::cli
