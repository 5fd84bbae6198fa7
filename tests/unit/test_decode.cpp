// Raw kernel records -> events: orientation, reason names from the kernel's BTF, record checks.
#include <gtest/gtest.h>

#include <linux/types.h>
#include <sys/socket.h>

#include <cstring>

#include <bpf/btf.h>

#include "kernel/btf_names.h"
#include "kernel/kallsyms.h"
#include "synwhy_events.h"
#include "tracer/decode.h"

using namespace synwhy;

namespace {

synwhy_event raw(uint8_t kind, const char* s, uint16_t sport, const char* d, uint16_t dport) {
    synwhy_event r{};
    r.kind = kind;
    r.family = AF_INET;
    r.ts_ns = 5;
    auto a = *IpAddr::parse(s), b = *IpAddr::parse(d);
    std::memcpy(r.saddr, a.bytes.data(), 16);
    std::memcpy(r.daddr, b.bytes.data(), 16);
    r.sport = sport;
    r.dport = dport;
    std::strcpy(r.ifname, "veth0");
    return r;
}

KernelNames fake_names() {
    KernelNames n;
    n.drop_reasons = {{2, "NOT_SPECIFIED"}, {3, "NO_SOCKET"}, {12, "NETFILTER_DROP"}};
    n.reset_reasons = {{0, "NOT_SPECIFIED"}, {1, "NO_SOCKET"}};
    n.symbolize = [](uint64_t a) { return a == 0x1000 ? std::string("nft_do_chain+0x10") : std::string("?"); };
    return n;
}

}  // namespace

TEST(Decode, InboundSyn) {
    auto r = raw(SYNWHY_EV_SYN_RX, "192.0.2.1", 40000, "192.0.2.2", 22);
    Event e;
    ASSERT_TRUE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 100, e));
    EXPECT_EQ(e.kind, EventKind::syn_rx);
    EXPECT_EQ(e.src.str(), "192.0.2.1");
    EXPECT_EQ(e.dport, 22);
    EXPECT_EQ(e.ts_ns, 105u);
    EXPECT_EQ(e.ifname, "veth0");
}

TEST(Decode, DroppedReplyIsOrientedAsTheSyn) {
    auto r = raw(SYNWHY_EV_DROP, "192.0.2.2", 22, "192.0.2.1", 40000);
    r.reason = 12;
    r.location = 0x1000;
    Event e;
    ASSERT_TRUE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 0, e));
    EXPECT_TRUE(e.outbound);
    EXPECT_EQ(e.src.str(), "192.0.2.1");
    EXPECT_EQ(e.sport, 40000);
    EXPECT_EQ(e.dport, 22);
    EXPECT_EQ(e.reason, "NETFILTER_DROP");
    EXPECT_EQ(e.location, "nft_do_chain+0x10");
}

TEST(Decode, ResetReasonIsOffByOneSoZeroMeansNone) {
    auto r = raw(SYNWHY_EV_RST_SENT, "192.0.2.1", 40000, "192.0.2.2", 22);
    Event e;
    r.reason = 0;
    ASSERT_TRUE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 0, e));
    EXPECT_EQ(e.reason, "");
    r.reason = 2;
    ASSERT_TRUE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 0, e));
    EXPECT_EQ(e.reason, "NO_SOCKET");
}

TEST(Decode, TxRstAndEstablishedAreSwappedToClientFirst) {
    auto r = raw(SYNWHY_EV_TX, "192.0.2.2", 22, "192.0.2.1", 40000);
    r.tcp_flags = 0x14;
    Event e;
    ASSERT_TRUE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 0, e));
    EXPECT_EQ(e.kind, EventKind::tx_rst);
    EXPECT_EQ(e.src.str(), "192.0.2.1");
    auto s = raw(SYNWHY_EV_STATE, "192.0.2.2", 22, "192.0.2.1", 40000);
    s.old_state = 3;
    s.new_state = 1;
    ASSERT_TRUE(decode_event(&s, sizeof s, PortSet({22}), fake_names(), 0, e));
    EXPECT_EQ(e.kind, EventKind::established);
    EXPECT_EQ(e.dport, 22);
}

TEST(Decode, ShortOrUnknownRecordsAreRefused) {
    auto r = raw(SYNWHY_EV_SYN_RX, "192.0.2.1", 1, "192.0.2.2", 22);
    Event e;
    EXPECT_FALSE(decode_event(&r, sizeof r - 1, PortSet({22}), fake_names(), 0, e));
    r.kind = 99;
    EXPECT_FALSE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 0, e));
    r.kind = SYNWHY_EV_SYN_RX;
    r.family = 7;
    EXPECT_FALSE(decode_event(&r, sizeof r, PortSet({22}), fake_names(), 0, e));
}

TEST(Kallsyms, SymbolizesToTheNearestLowerTextSymbol) {
    auto k = kernel::Kallsyms::parse(
        "ffffffff81000000 T _stext\nffffffff81200000 t nft_do_chain\nffffffff81200400 T nf_hook_slow\n"
        "ffffffff81300000 D some_data\n");
    EXPECT_EQ(k.symbolize(0xffffffff812002c4ULL), "nft_do_chain+0x2c4");
    EXPECT_EQ(k.symbolize(0xffffffff81200400ULL), "nf_hook_slow+0x0");
    EXPECT_EQ(k.symbolize(0x10), "0x10");
    EXPECT_TRUE(kernel::Kallsyms::parse("0000000000000000 T hidden\n").empty());
}

// Reason names come from the running kernel's BTF, not from numbers compiled in.
TEST(BtfNames, DropReasonsComeFromTheRunningKernel) {
    struct btf* btf = btf__parse("/sys/kernel/btf/vmlinux", nullptr);
    if (!btf) GTEST_SKIP() << "no /sys/kernel/btf/vmlinux on this machine";
    auto names = kernel::enum_names(btf, "skb_drop_reason", "SKB_DROP_REASON_");
    btf__free(btf);
    ASSERT_FALSE(names.empty());
    bool has_no_socket = false, has_netfilter = false;
    for (const auto& [value, name] : names) {
        has_no_socket |= name == "NO_SOCKET";
        has_netfilter |= name == "NETFILTER_DROP";
    }
    EXPECT_TRUE(has_no_socket);
    EXPECT_TRUE(has_netfilter);
    EXPECT_EQ(kernel::drop_reason_name(names, (3u << 16) | 5), "SUBSYS3:5");
}

TEST(BtfNames, TracepointArgumentCounts) {
    struct btf* btf = btf__parse("/sys/kernel/btf/vmlinux", nullptr);
    if (!btf) GTEST_SKIP() << "no /sys/kernel/btf/vmlinux on this machine";
    auto kfree = kernel::tracepoint_arg_count(btf, "kfree_skb");
    auto rx = kernel::tracepoint_arg_count(btf, "netif_receive_skb");
    auto none = kernel::tracepoint_arg_count(btf, "no_such_tracepoint_here");
    btf__free(btf);
    ASSERT_TRUE(kfree && rx);
    EXPECT_GE(*kfree, 2);
    EXPECT_EQ(*rx, 1);
    EXPECT_FALSE(none);
}

TEST(Decode, KernelTotalsAreNamedAndMerged) {
    // Two CPUs' worth of keys that name the same fact merge; reasons come from the kernel's names.
    std::vector<KernelCount> raw_counts = {
        {7, 22, SYNWHY_EV_SYN_RX, 0x02, 0, 200000},
        {7, 22, SYNWHY_EV_DROP, 0x02, 12, 150000},
        {7, 22, SYNWHY_EV_RST_SENT, 0x02, 2, 40000},  // reset reason 1 (+1)
        {7, 22, SYNWHY_EV_TX, 0x14, 0, 39999},        // RST|ACK left
        {7, 22, SYNWHY_EV_TX, 0x04, 0, 1},            // RST left: the same fact
        {7, 22, SYNWHY_EV_TX, 0x12, 0, 10},           // SYN-ACK left
        {7, 22, SYNWHY_EV_TX, 3, 3 + 1, 5},           // ICMP error (type 3, code 3) left
        {7, 22, SYNWHY_COUNT_SYN_FORWARDED, 0x02, 0, 30},  // passing through: its own total
        {7, 22, 99, 0, 0, 1},                         // unknown kind: ignored
    };
    auto totals = name_kernel_counts(raw_counts, fake_names());
    auto find = [&](const std::string& what) -> uint64_t {
        for (const auto& t : totals)
            if (t.what == what && t.port == 22 && t.netns == 7) return t.count;
        return 0;
    };
    EXPECT_EQ(find("SYN arrived"), 200000u);
    EXPECT_EQ(find("SYN dropped: NETFILTER_DROP"), 150000u);
    EXPECT_EQ(find("answered with RST by TCP (NO_SOCKET)"), 40000u);
    EXPECT_EQ(find("RST left"), 40000u);
    EXPECT_EQ(find("SYN-ACK left"), 10u);
    EXPECT_EQ(find("ICMP error left"), 5u);
    EXPECT_EQ(find("SYN forwarded (to an address not this namespace's)"), 30u);
    EXPECT_EQ(totals.size(), 7u);
}
