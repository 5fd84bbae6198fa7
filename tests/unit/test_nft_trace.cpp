// nft trace decoding and assembly on fixtures: no netlink, no root.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "diagnosis/diagnose.h"
#include "firewall/event_clock.h"
#include "firewall/nft_trace.h"
#include "synwhy_events.h"
#include "tracer/decode.h"

using namespace synwhy;
using namespace synwhy::firewall;

namespace {

TraceRecord rec(uint32_t id, const char* table, const char* chain, uint32_t type, int32_t verdict, uint64_t handle = 0) {
    TraceRecord r;
    r.id = id;
    r.family = "inet";
    r.table = table;
    r.chain = chain;
    r.type = type;
    r.verdict = verdict;
    r.handle = handle;
    return r;
}

TraceRecord with_packet(TraceRecord r, const char* src, uint16_t sport, const char* dst, uint16_t dport) {
    r.has_packet = true;
    r.src = *IpAddr::parse(src);
    r.dst = *IpAddr::parse(dst);
    r.sport = sport;
    r.dport = dport;
    r.tcp_flags = 0x02;
    return r;
}

// An nf_tables netlink message of `type` with the payload `put` adds, as the kernel sends it.
template <typename Put>
std::vector<char> nft_message(uint16_t type, Put put) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    struct nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
    auto* nfg = static_cast<struct nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    put(nlh);
    buf.resize(nlh->nlmsg_len);
    return buf;
}

const struct nlmsghdr* header(const std::vector<char>& message) {
    return reinterpret_cast<const struct nlmsghdr*>(message.data());
}

}  // namespace

TEST(NftTrace, VerdictAndKernelEventOfOnePacketStayJoinedAcrossAWallClockStep) {
    // At start the wall clock read 1.7e9 s, 5000 s after boot: the events' clock is fixed then.
    const uint64_t boot_s = 5000, wall_s = 1'700'000'000;
    const int64_t offset = int64_t(wall_s - boot_s) * 1'000'000'000;
    // The kernel saw the SYN at monotonic T; its trace verdict was read 2 ms later, after NTP
    // stepped the wall clock back an hour (CLOCK_REALTIME then: T + 2 ms + offset - 1 h).
    const uint64_t syn_mono = (boot_s + 60) * 1'000'000'000ULL, read_mono = syn_mono + 2'000'000;
    synwhy_event raw{};
    raw.kind = SYNWHY_EV_SYN_RX;
    raw.family = AF_INET;
    raw.ts_ns = syn_mono;
    auto client = *IpAddr::parse("192.0.2.1"), server = *IpAddr::parse("192.0.2.2");
    std::memcpy(raw.saddr, client.bytes.data(), 16);
    std::memcpy(raw.daddr, server.bytes.data(), 16);
    raw.sport = 40000;
    raw.dport = 22;
    Event syn;
    ASSERT_TRUE(decode_event(&raw, sizeof raw, PortSet({22}), KernelNames{}, offset, syn));

    TraceAssembler a("own");
    auto verdict = a.add(with_packet(rec(4, "filter", "input", NFT_TRACETYPE_RULE, NF_DROP, 9), "192.0.2.1", 40000,
                                     "192.0.2.2", 22),
                         {22});
    ASSERT_TRUE(verdict);
    verdict->ts_ns = event_time_ns(read_mono, offset);  // as NftTraceSession stamps it

    EXPECT_EQ(syn.ts_ns, event_time_ns(syn_mono, offset));  // one conversion for both sources
    ASSERT_GE(verdict->ts_ns, syn.ts_ns);                   // the verdict follows its packet
    EXPECT_EQ(verdict->ts_ns - syn.ts_ns, 2'000'000u);      // by the 2 ms, not by the clock step
    std::map<FlowKey, FlowEvidence> flows;
    fold_event(flows, syn);
    FlowEvidence* flow = fold_event(flows, *verdict);
    ASSERT_EQ(flows.size(), 1u);
    ASSERT_TRUE(flow && flow->inbound_rule);
    EXPECT_EQ(flow->inbound_rule->handle, 9u);
    EXPECT_EQ(flow->last_ns - flow->first_ns, 2'000'000u);
}

TEST(NftTrace, ARuleReplacedInPlaceIsReadAgainAtTheNewGeneration) {
    // `nft replace rule inet filter input handle 9 ...` keeps handle 9 and moves the generation.
    RuleTextCache cache;
    const std::string input = "inet filter input";
    cache.store(input, 41, {{9, "tcp dport 22 drop"}, {0, "type filter hook input priority filter; policy accept;"}});
    EXPECT_EQ(cache.text(input, 9, 41), "tcp dport 22 drop");
    EXPECT_EQ(cache.text(input, 0, 41), "type filter hook input priority filter; policy accept;");
    EXPECT_EQ(cache.text(input, 9, 42), std::nullopt);  // judged after the replacement: stale
    cache.store(input, 42, {{9, "tcp dport 22 reject with tcp reset"}});
    EXPECT_EQ(cache.text(input, 9, 42), "tcp dport 22 reject with tcp reset");
    EXPECT_EQ(cache.text(input, 9, 41), std::nullopt);  // the old listing is gone, not mixed in
}

TEST(NftTrace, RuleTextCacheKeysByChainAndHandle) {
    RuleTextCache cache;
    cache.store("inet filter input", 7, {{9, "tcp dport 22 drop"}});
    cache.store("ip filter input", 7, {{9, "ip saddr 192.0.2.1 drop"}});
    EXPECT_EQ(cache.text("inet filter input", 9, 7), "tcp dport 22 drop");
    EXPECT_EQ(cache.text("ip filter input", 9, 7), "ip saddr 192.0.2.1 drop");
    EXPECT_EQ(cache.text("inet filter input", 10, 7), std::nullopt);  // not in the listing: read again
    EXPECT_EQ(cache.text("inet filter forward", 9, 7), std::nullopt);  // never read
    cache.store("inet filter forward", 8, {{3, "drop"}});  // a commit since: the others are stale
    EXPECT_EQ(cache.text("inet filter input", 9, 8), std::nullopt);
    EXPECT_EQ(cache.text("inet filter input", 9, 7), std::nullopt);
}

TEST(NftTrace, DecodesTheGenerationOfANewGenMessage) {
    uint32_t generation = 0;
    auto newgen = nft_message(NFT_MSG_NEWGEN, [](struct nlmsghdr* nlh) {
        mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(0x01020304));
        mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(77));
    });
    ASSERT_TRUE(decode_generation(header(newgen), generation));
    EXPECT_EQ(generation, 0x01020304u);

    generation = 5;
    auto no_id = nft_message(NFT_MSG_NEWGEN, [](struct nlmsghdr* nlh) { mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(7)); });
    EXPECT_FALSE(decode_generation(header(no_id), generation));
    auto short_id = nft_message(NFT_MSG_NEWGEN, [](struct nlmsghdr* nlh) { mnl_attr_put_u16(nlh, NFTA_GEN_ID, 1); });
    EXPECT_FALSE(decode_generation(header(short_id), generation));
    auto other = nft_message(NFT_MSG_NEWRULE, [](struct nlmsghdr* nlh) { mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(9)); });
    EXPECT_FALSE(decode_generation(header(other), generation));
    EXPECT_EQ(generation, 5u);
}

TEST(NftTrace, DecodesIpv4AndIpv6TcpHeaders) {
    uint8_t v4[20] = {0x45, 0, 0, 60, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
    uint8_t tcp[20] = {0x9c, 0x40, 0x00, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0xa0, 0x02};
    TraceRecord r;
    ASSERT_TRUE(decode_trace_packet(NFPROTO_IPV4, v4, sizeof v4, tcp, sizeof tcp, r));
    EXPECT_EQ(r.src.str(), "192.0.2.1");
    EXPECT_EQ(r.dst.str(), "192.0.2.2");
    EXPECT_EQ(r.sport, 40000);
    EXPECT_EQ(r.dport, 22);
    EXPECT_EQ(r.tcp_flags, 0x02);

    uint8_t v6[40] = {0x60, 0, 0, 0, 0, 20, 6, 64};
    auto s = *IpAddr::parse("2001:db8::1"), d = *IpAddr::parse("2001:db8::2");
    std::copy(s.bytes.begin(), s.bytes.end(), v6 + 8);
    std::copy(d.bytes.begin(), d.bytes.end(), v6 + 24);
    TraceRecord r6;
    ASSERT_TRUE(decode_trace_packet(NFPROTO_IPV6, v6, sizeof v6, tcp, sizeof tcp, r6));
    EXPECT_EQ(r6.dst.str(), "2001:db8::2");

    v4[9] = 17;  // UDP
    TraceRecord u;
    EXPECT_FALSE(decode_trace_packet(NFPROTO_IPV4, v4, sizeof v4, tcp, sizeof tcp, u));
    EXPECT_FALSE(decode_trace_packet(NFPROTO_IPV4, v4, 10, tcp, sizeof tcp, u));  // truncated
}

TEST(NftTrace, DropReachedThroughAJumpKeepsThePath) {
    TraceAssembler a("synwhy_trace_1");
    std::vector<uint16_t> ports{22};
    // Our own marking rule carries the packet; it is not part of the path.
    EXPECT_FALSE(a.add(with_packet(rec(7, "synwhy_trace_1", "syn_in", NFT_TRACETYPE_RULE, NFT_CONTINUE, 3),
                                   "192.0.2.1", 40000, "192.0.2.2", 22), ports));
    auto jump = rec(7, "filter", "input", NFT_TRACETYPE_RULE, NFT_JUMP, 4);
    jump.jump_target = "ssh_guard";
    EXPECT_FALSE(a.add(jump, ports));
    auto e = a.add(rec(7, "filter", "ssh_guard", NFT_TRACETYPE_RULE, NF_DROP, 9), ports);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, EventKind::firewall_verdict);
    EXPECT_EQ(e->src.str(), "192.0.2.1");
    EXPECT_EQ(e->dport, 22);
    ASSERT_TRUE(e->rule);
    EXPECT_EQ(e->rule->chain, "ssh_guard");
    EXPECT_EQ(e->rule->path, std::vector<std::string>{"input"});
    EXPECT_EQ(e->rule->handle, 9u);
    EXPECT_FALSE(e->rule->policy);
}

TEST(NftTrace, PolicyDropIsNamedAsThePolicy) {
    TraceAssembler a("own");
    auto e = a.add(with_packet(rec(8, "filter", "input", NFT_TRACETYPE_POLICY, NF_DROP), "2001:db8::1", 1, "2001:db8::2", 22),
                   {22});
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->rule->policy);
    EXPECT_EQ(e->rule->handle, 0u);
    EXPECT_NE(describe_rule(*e->rule).find("chain policy drop"), std::string::npos);
    EXPECT_EQ(rule_fix(*e->rule, 22, *IpAddr::parse("2001:db8::1"), nullptr).back(),
              "nft insert rule inet filter input tcp dport 22 accept");
}

TEST(NftTrace, DroppedReplyIsOutbound) {
    TraceAssembler a("own");
    auto e = a.add(with_packet(rec(9, "filter", "output", NFT_TRACETYPE_RULE, NF_DROP, 5), "192.0.2.2", 22, "192.0.2.1", 40000),
                   {22});
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->outbound);
    EXPECT_EQ(e->src.str(), "192.0.2.1");
    EXPECT_EQ(e->sport, 40000);
}

TEST(NftTrace, AcceptsAndUnknownPacketsGiveNothing) {
    TraceAssembler a("own");
    EXPECT_FALSE(a.add(with_packet(rec(1, "filter", "input", NFT_TRACETYPE_RULE, NF_ACCEPT, 2), "192.0.2.1", 1,
                                   "192.0.2.2", 22), {22}));
    EXPECT_FALSE(a.add(rec(2, "filter", "input", NFT_TRACETYPE_RULE, NF_DROP, 2), {22}));  // no packet seen
}

TEST(NftTrace, RuleTextByHandleAndComment) {
    const char* listing =
        "table inet filter {\n"
        "\tchain ssh_guard { # handle 2\n"
        "\t\ttcp dport { 22, 2222 } drop comment \"block \\\"ssh\\\"\" # handle 9\n"
        "\t\tcounter packets 0 bytes 0 # handle 10\n"
        "\t}\n"
        "}\n";
    auto rules = rules_by_handle(listing);
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[9], "tcp dport { 22, 2222 } drop comment \"block \\\"ssh\\\"\"");
    EXPECT_EQ(rule_comment(rules[9]), "block \"ssh\"");
    EXPECT_EQ(rule_comment(rules[10]), "");
}

TEST(NftTrace, ACommentWithANewlineKeepsItsRuleWhole) {
    // As `nft -a list chain` prints a comment holding "\n" and ESC: the rule spans two lines.
    const char* listing =
        "table inet hostile {\n"
        "\tchain input { # handle 1\n"
        "\t\ttype filter hook input priority -10; policy accept;\n"
        "\t\ttcp dport 22 drop comment \"evil\n"
        "forged line\x1b[2J # handle 3\" # handle 2\n"
        "\t\tcounter packets 0 bytes 0 # handle 4\n"
        "\t}\n"
        "}\n";
    auto rules = rules_by_handle(listing);
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[2], "tcp dport 22 drop comment \"evil\nforged line\x1b[2J # handle 3\"");
    EXPECT_EQ(rule_comment(rules[2]), "evil\nforged line\x1b[2J # handle 3");
    EXPECT_EQ(rules.count(3), 0u);
    EXPECT_EQ(rules[4], "counter packets 0 bytes 0");
}

TEST(NftTrace, FrontEndsGetTheirOwnFix) {
    FirewallRule ufw{"nftables", "ip", "filter", "ufw-user-input", {"INPUT", "ufw-before-input"}, 12, 0, false, "", "", "drop"};
    IpAddr client = *IpAddr::parse("192.0.2.1");
    // The managers' own commands, never the raw one: they would put the rule back.
    auto fix = rule_fix(ufw, 22, client, nullptr);
    ASSERT_EQ(fix.size(), 2u);
    EXPECT_EQ(fix[0], "ufw allow 22/tcp");
    EXPECT_EQ(fix[1].find("nft"), std::string::npos);
    FirewallRule fwd{"nftables", "inet", "firewalld", "filter_IN_public", {}, 0, 0, false, "", "", "reject"};
    EXPECT_EQ(rule_fix(fwd, 22, client, nullptr)[0],
              "firewall-cmd --permanent --zone=public --add-service=ssh && firewall-cmd --reload");
    FirewallRule legacy{"iptables-legacy", "ip", "filter", "SSH_GUARD", {"INPUT"}, 0, 2, false, "-A SSH_GUARD -p tcp -j DROP", "", "drop"};
    EXPECT_EQ(rule_fix(legacy, 22, client, nullptr)[0], "iptables-legacy -t filter -D SSH_GUARD 2");
}

TEST(NftTrace, ReturnsPopThePath) {
    // firewalld: filter_INPUT jumps to the zones, goto the zone, the zone jumps to its allow
    // chain, nothing matches there (implicit return), the zone's last rule rejects.
    TraceAssembler a("own");
    std::vector<uint16_t> ports{22};
    auto j1 = with_packet(rec(3, "firewalld", "filter_INPUT", NFT_TRACETYPE_RULE, NFT_JUMP, 4), "192.0.2.1", 1, "192.0.2.2", 22);
    j1.jump_target = "filter_INPUT_ZONES";
    a.add(j1, ports);
    auto j2 = rec(3, "firewalld", "filter_INPUT_ZONES", NFT_TRACETYPE_RULE, NFT_GOTO, 6);
    j2.jump_target = "filter_IN_public";
    a.add(j2, ports);
    auto j3 = rec(3, "firewalld", "filter_IN_public", NFT_TRACETYPE_RULE, NFT_JUMP, 11);
    j3.jump_target = "filter_IN_public_allow";
    a.add(j3, ports);
    a.add(rec(3, "firewalld", "filter_IN_public_allow", NFT_TRACETYPE_RETURN, NFT_CONTINUE), ports);
    auto e = a.add(rec(3, "firewalld", "filter_IN_public", NFT_TRACETYPE_RULE, NF_DROP, 13), ports);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->rule->path, (std::vector<std::string>{"filter_INPUT", "filter_INPUT_ZONES"}));
    EXPECT_EQ(e->rule->chain, "filter_IN_public");
}

TEST(NftTrace, UntracedReturnsAreUnwound) {
    // ufw: INPUT jumps to an empty logging chain (its return is not traced), then to
    // ufw6-before-input, which jumps to ufw6-user-input, whose rule drops.
    TraceAssembler a("own");
    std::vector<uint16_t> ports{22};
    auto j1 = with_packet(rec(5, "filter", "INPUT", NFT_TRACETYPE_RULE, NFT_JUMP, 1), "2001:db8::1", 1, "2001:db8::2", 22);
    j1.family = "ip6";
    j1.jump_target = "ufw6-before-logging-input";
    a.add(j1, ports);
    auto j2 = rec(5, "filter", "INPUT", NFT_TRACETYPE_RULE, NFT_JUMP, 2);
    j2.jump_target = "ufw6-before-input";
    a.add(j2, ports);
    auto j3 = rec(5, "filter", "ufw6-before-input", NFT_TRACETYPE_RULE, NFT_JUMP, 30);
    j3.jump_target = "ufw6-user-input";
    a.add(j3, ports);
    auto e = a.add(rec(5, "filter", "ufw6-user-input", NFT_TRACETYPE_RULE, NF_DROP, 144), ports);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->rule->path, (std::vector<std::string>{"INPUT", "ufw6-before-input"}));
}
