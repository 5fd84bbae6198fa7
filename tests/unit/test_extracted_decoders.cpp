// The netlink decoders drain() and list_tcp_listeners() use, on the committed fuzz seeds: messages
// the kernel really sent (captured by tests/fuzz/make_seeds --capture) and hand-built ones.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "firewall/nft_trace.h"
#include "host/snapshot.h"

using namespace synwhy;
using namespace synwhy::firewall;

namespace {

const std::filesystem::path corpus = std::filesystem::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus";

// A seed file as an aligned buffer (netlink messages are read in place).
std::vector<uint32_t> read_seed(const std::string& target, const std::string& name, size_t& size) {
    std::ifstream f(corpus / target / name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string bytes = ss.str();
    size = bytes.size();
    std::vector<uint32_t> buf((bytes.size() + 3) / 4);
    std::memcpy(buf.data(), bytes.data(), bytes.size());
    return buf;
}

template <typename F>
void for_each_message(const std::vector<uint32_t>& buf, size_t size, F&& f) {
    auto* nlh = reinterpret_cast<const struct nlmsghdr*>(buf.data());
    int len = static_cast<int>(size);
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) f(nlh);
}

// Feeds every message of the seeds, in order, to one assembler as drain() does.
std::vector<Event> assemble(const std::vector<std::string>& seeds, size_t* decoded = nullptr) {
    TraceAssembler a("synwhy_trace_1");
    std::vector<uint16_t> ports{22, 2222};
    std::vector<Event> out;
    size_t n = 0;
    for (const auto& name : seeds) {
        size_t size = 0;
        auto buf = read_seed("fuzz_nft_trace", name, size);
        EXPECT_GT(size, 0u) << name;
        for_each_message(buf, size, [&](const struct nlmsghdr* nlh) {
            TraceRecord r;
            if (!decode_trace_message(nlh, r)) return;
            n++;
            if (auto e = a.add(r, ports)) out.push_back(*e);
        });
    }
    if (decoded) *decoded = n;
    return out;
}

}  // namespace

TEST(ExtractedDecoders, RealNftTraceOfAJumpToADrop) {
    size_t decoded = 0;
    auto events = assemble({"real.4.0", "real.4.1", "real.4.2", "real.4.3", "real.4.4"}, &decoded);
    EXPECT_EQ(decoded, 5u);
    ASSERT_EQ(events.size(), 1u);
    const Event& e = events[0];
    EXPECT_EQ(e.kind, EventKind::firewall_verdict);
    EXPECT_EQ(e.src.str(), "127.0.0.1");
    EXPECT_EQ(e.dst.str(), "127.0.0.1");
    EXPECT_EQ(e.dport, 22);
    EXPECT_EQ(e.tcp_flags & 0x12, 0x02);
    EXPECT_FALSE(e.outbound);
    ASSERT_TRUE(e.rule);
    EXPECT_EQ(e.rule->family, "inet");
    EXPECT_EQ(e.rule->table, "lab_filter");
    EXPECT_EQ(e.rule->chain, "ssh_guard");
    EXPECT_EQ(e.rule->path, std::vector<std::string>{"input"});
    EXPECT_GT(e.rule->handle, 0u);
    EXPECT_FALSE(e.rule->policy);
}

TEST(ExtractedDecoders, RealNftTraceOfADropPolicy) {
    auto events = assemble({"real.6.0", "real.6.1", "real.6.2", "real.6.3", "real.6.4"});
    ASSERT_EQ(events.size(), 1u);
    const Event& e = events[0];
    EXPECT_EQ(e.dst.str(), "::1");
    EXPECT_EQ(e.dport, 2222);
    ASSERT_TRUE(e.rule);
    EXPECT_EQ(e.rule->family, "ip6");
    EXPECT_EQ(e.rule->table, "lab_policy");
    EXPECT_EQ(e.rule->chain, "input");
    EXPECT_TRUE(e.rule->policy);
    EXPECT_EQ(e.rule->handle, 0u);
}

TEST(ExtractedDecoders, HandBuiltNftTraceSeeds) {
    auto jump = assemble({"jump_drop.4"});
    ASSERT_EQ(jump.size(), 1u);
    EXPECT_EQ(jump[0].src.str(), "192.0.2.1");
    EXPECT_EQ(jump[0].rule->chain, "ssh_guard");
    EXPECT_EQ(jump[0].rule->handle, 9u);
    EXPECT_EQ(jump[0].rule->path, std::vector<std::string>{"input"});
    auto policy = assemble({"policy_drop.6"});
    ASSERT_EQ(policy.size(), 1u);
    EXPECT_EQ(policy[0].src.str(), "2001:db8::1");
    EXPECT_TRUE(policy[0].rule->policy);
    EXPECT_TRUE(policy[0].rule->path.empty());  // the jump returned before the policy
}

namespace {

// A trace message with the attributes `fill` puts after the usual id and type.
struct TraceMessage {
    alignas(4) char buf[512] = {};
    struct nlmsghdr* nlh;
    explicit TraceMessage(bool with_id = true) {
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_TRACE;
        auto* nfg = static_cast<struct nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg)));
        nfg->nfgen_family = NFPROTO_INET;
        mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(NFT_TRACETYPE_RULE));
        if (with_id) mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(7));
    }
};

}  // namespace

TEST(ExtractedDecoders, MalformedTraceMessagesAreRefusedNotFatal) {
    // libnftnl would exit() the process on each of these ("Netlink ABI is broken"), or read past a
    // string without its NUL: the decoder refuses them instead.
    {
        TraceMessage m;
        mnl_attr_put_strz(m.nlh, NFTA_TRACE_TABLE, "filter");
        TraceRecord r;
        EXPECT_TRUE(decode_trace_message(m.nlh, r));
        EXPECT_EQ(r.id, 7u);
        EXPECT_EQ(r.table, "filter");
    }
    {
        TraceMessage m(false);  // no id
        TraceRecord r;
        EXPECT_FALSE(decode_trace_message(m.nlh, r));
    }
    {
        TraceMessage m;
        mnl_attr_put_u16(m.nlh, NFTA_TRACE_NFPROTO, 2);  // a u32 attribute of 2 bytes
        TraceRecord r;
        EXPECT_FALSE(decode_trace_message(m.nlh, r));
    }
    {
        TraceMessage m;
        mnl_attr_put(m.nlh, NFTA_TRACE_CHAIN, 5, "input");  // no NUL
        TraceRecord r;
        EXPECT_FALSE(decode_trace_message(m.nlh, r));
    }
    {
        TraceMessage m;
        auto* nest = mnl_attr_nest_start(m.nlh, NFTA_TRACE_VERDICT);
        mnl_attr_put_u32(m.nlh, NFTA_VERDICT_CODE, htonl(uint32_t(NFT_JUMP)));  // a jump without its chain
        mnl_attr_nest_end(m.nlh, nest);
        TraceRecord r;
        EXPECT_FALSE(decode_trace_message(m.nlh, r));
    }
    {
        TraceMessage m;
        m.nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE;  // not a trace
        TraceRecord r;
        EXPECT_FALSE(decode_trace_message(m.nlh, r));
    }
}

namespace {

std::vector<Listener> listeners_of(const std::string& seed) {
    size_t size = 0;
    auto buf = read_seed("fuzz_sock_diag", seed, size);
    EXPECT_GT(size, 0u) << seed;
    std::vector<Listener> out;
    for_each_message(buf, size, [&](const struct nlmsghdr* nlh) {
        Listener l;
        if (host::parse_inet_diag_listener(nlh, l)) out.push_back(l);
    });
    return out;
}

}  // namespace

TEST(ExtractedDecoders, RealSockDiagDumps) {
    auto v4 = listeners_of("real.4.0");
    ASSERT_EQ(v4.size(), 1u);
    EXPECT_EQ(v4[0].addr.str(), "0.0.0.0");
    EXPECT_EQ(v4[0].port, 22);
    EXPECT_EQ(v4[0].backlog, 16u);  // listen(fd, 16)
    EXPECT_GT(v4[0].inode, 0u);
    EXPECT_TRUE(listeners_of("real.4.1").empty());  // NLMSG_DONE

    auto v6 = listeners_of("real.6.0");
    ASSERT_EQ(v6.size(), 2u);
    std::map<std::string, Listener> by_addr;
    for (const auto& l : v6) by_addr[l.addr.str() + " " + std::to_string(l.port)] = l;
    ASSERT_TRUE(by_addr.count(":: 2222"));
    ASSERT_TRUE(by_addr.count("::1 22"));
    EXPECT_FALSE(by_addr[":: 2222"].v6only);
    EXPECT_TRUE(by_addr["::1 22"].v6only);
}

TEST(ExtractedDecoders, HandBuiltSockDiagReplies) {
    auto v6 = listeners_of("listeners.6");
    ASSERT_EQ(v6.size(), 3u);
    EXPECT_FALSE(v6[0].v6only);
    EXPECT_TRUE(v6[1].v6only);
    EXPECT_FALSE(v6[2].v6only);  // no INET_DIAG_SKV6ONLY attribute
    EXPECT_EQ(v6[2].inode, 20115u);
    EXPECT_TRUE(listeners_of("error").empty());

    // Not a listener: another state, a short payload.
    alignas(4) char buf[256] = {};
    auto* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    auto* msg = static_cast<struct inet_diag_msg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct inet_diag_msg)));
    msg->idiag_family = AF_INET;
    msg->idiag_state = TCP_ESTABLISHED;
    Listener l;
    EXPECT_FALSE(host::parse_inet_diag_listener(nlh, l));
    msg->idiag_state = TCP_LISTEN;
    EXPECT_TRUE(host::parse_inet_diag_listener(nlh, l));
    nlh->nlmsg_len = NLMSG_HDRLEN + 8;
    EXPECT_FALSE(host::parse_inet_diag_listener(nlh, l));
}
