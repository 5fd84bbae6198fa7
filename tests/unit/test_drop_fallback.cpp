// The same verdicts on kernels that give fewer signals (issue 14): events shaped as each kernel
// emits them for the lab's scenarios. 5.10: kfree_skb has no reason (decoded ""), a RST sent
// without a socket is seen only leaving (tx_rst), no icmp_send (the ICMP error is seen leaving);
// 5.15.y: reasons, but NOT_SPECIFIED at tcp_v6_rcv and nf_hook_slow; 6.1: real reasons, a
// netfilter drop freed in nf_hook_slow. And the BTF shapes that tell synwhy which of these it is on.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cstring>
#include <memory>

#include <bpf/btf.h>
#include <fmt/format.h>

#include "diagnose_helpers.h"
#include "diagnosis/drop_fallback.h"
#include "kernel/signal_fallbacks.h"
#include "synwhy_events.h"
#include "tracer/decode.h"

using namespace synwhy;
using namespace synwhy::testing;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// The drop reasons each kernel gives for the lab's refusals and netfilter drops.
struct KernelShape {
    const char* name;
    const char* refusal_v4;  // the SYN freed in tcp_v4_rcv after the RST
    const char* refusal_v6;  // ... in tcp_v6_rcv
    const char* netfilter;   // the SYN freed in nf_hook_slow on NF_DROP
};
const KernelShape k5_10{"5.10", "", "", ""};
const KernelShape k5_15{"5.15", "NO_SOCKET", "NOT_SPECIFIED", "NOT_SPECIFIED"};
const KernelShape k6_1{"6.1", "NO_SOCKET", "NO_SOCKET", "NETFILTER_DROP"};

struct Ends {
    const char* client;
    const char* server;
    const char* wildcard;
    bool v6() const { return std::strchr(client, ':') != nullptr; }
};
const Ends v4{"192.0.2.1", "192.0.2.2", "0.0.0.0"};
const Ends v6{"2001:db8::1", "2001:db8::2", "::"};

Event ev(EventKind kind, const Ends& ends, uint64_t ts) {
    Event e;
    e.kind = kind;
    e.ts_ns = ts;
    e.netns = 4026532000;
    e.src = ip(ends.client);
    e.dst = ip(ends.server);
    e.sport = 40000;
    e.dport = 22;
    e.ifname = "veth-srv";
    e.outbound = kind == EventKind::tx_rst || kind == EventKind::tx_synack || kind == EventKind::icmp_sent;
    return e;
}

Event syn(const Ends& ends, uint64_t ts = 1000) {
    Event e = ev(EventKind::syn_rx, ends, ts);
    e.tcp_flags = 0x02;
    return e;
}

Event syn_drop(const Ends& ends, const char* reason, const char* location, uint64_t ts = 1002) {
    Event e = ev(EventKind::drop, ends, ts);
    e.tcp_flags = 0x02;
    e.reason = reason;
    e.location = location;
    return e;
}

const char* tcp_rcv(const Ends& ends) { return ends.v6() ? "tcp_v6_rcv+0x8a1" : "tcp_v4_rcv+0x6d4"; }

// The nft trace's verdict on the SYN: inet filter input handle 3.
Event traced(const Ends& ends, const char* verdict) {
    Event e = ev(EventKind::firewall_verdict, ends, 1003);
    FirewallRule r;
    r.backend = "nftables";
    r.family = "inet";
    r.table = "filter";
    r.chain = "input";
    r.handle = 3;
    r.text = std::string("tcp dport 22 ") + verdict;
    r.verdict = verdict;
    e.rule = r;
    return e;
}

HostSnapshot sshd_stopped() {
    HostSnapshot h;
    h.netns = 4026532000;
    h.addresses = {ip("192.0.2.2"), ip("2001:db8::2")};
    h.systemd_running = true;
    h.units = {{"ssh.service", "loaded", "inactive", "dead", "disabled", 0}};
    return h;
}

HostSnapshot sshd_running() {
    HostSnapshot h = sshd_stopped();
    h.units = {{"ssh.service", "loaded", "active", "running", "enabled", 812}};
    for (const char* any : {"0.0.0.0", "::"}) {
        Listener l;
        l.addr = ip(any);
        l.port = 22;
        l.pid = 812;
        l.comm = "sshd";
        l.v6only = l.addr.family == Family::ipv6;
        l.backlog = 128;
        h.listeners.push_back(l);
    }
    return h;
}

std::string label(const KernelShape& k, const Ends& ends) { return std::string(k.name) + (ends.v6() ? " IPv6" : " IPv4"); }

}  // namespace

TEST(DropFallback, SshdStoppedIsNoListenerOnEveryKernel) {
    for (const KernelShape& k : {k5_10, k5_15, k6_1})
        for (const Ends& ends : {v4, v6}) {
            const char* reason = ends.v6() ? k.refusal_v6 : k.refusal_v4;
            Event rst = ev(EventKind::tx_rst, ends, 1001);
            auto d = run({syn(ends), rst, syn_drop(ends, reason, tcp_rcv(ends))}, sshd_stopped());
            ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"}) << label(k, ends);
            EXPECT_EQ(d.causes[0].fix.front(), "systemctl enable --now ssh") << label(k, ends);
            // Only a missing reason is inferred, and the evidence says so and from what.
            bool inferred = std::string(reason) != "NO_SOCKET";
            std::string line = fmt::format("inferred NO_SOCKET from the drop in {} and the RST sent",
                                           ends.v6() ? "tcp_v6_rcv" : "tcp_v4_rcv");
            EXPECT_EQ(any_contains(d.causes[0].evidence, line), inferred) << label(k, ends) << ": " << d.flows[0].detail;
        }
}

TEST(DropFallback, TheInferenceSaysWhetherTheReasonWasMissingOrUnspecified) {
    Event rst = ev(EventKind::tx_rst, v6, 1001);
    auto none = run({syn(v6), rst, syn_drop(v6, "", "tcp_v6_rcv+0x8a1")}, sshd_stopped());
    EXPECT_NE(none.flows[0].detail.find("no drop reason on this kernel: inferred NO_SOCKET from the drop in tcp_v6_rcv "
                                        "and the RST sent"),
              std::string::npos)
        << none.flows[0].detail;
    auto unspecified = run({syn(v6), rst, syn_drop(v6, "NOT_SPECIFIED", "tcp_v6_rcv+0x8a1")}, sshd_stopped());
    EXPECT_NE(unspecified.flows[0].detail.find("drop reason NOT_SPECIFIED: inferred NO_SOCKET"), std::string::npos)
        << unspecified.flows[0].detail;
}

TEST(DropFallback, NftDropIsFirewallDropOnEveryKernel) {
    for (const KernelShape& k : {k5_10, k5_15, k6_1})
        for (const Ends& ends : {v4, v6}) {
            auto d = run({syn(ends), syn_drop(ends, k.netfilter, "nf_hook_slow+0x9b"), traced(ends, "drop")},
                         sshd_running());
            ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-drop"}) << label(k, ends);
            EXPECT_EQ(d.causes[0].fix.front(), "nft delete rule inet filter input handle 3") << label(k, ends);
            bool inferred = std::string(k.netfilter) != "NETFILTER_DROP";
            EXPECT_EQ(any_contains(d.causes[0].evidence, "inferred NETFILTER_DROP from the drop in nf_hook_slow"), inferred)
                << label(k, ends);
            // Without the trace the drop's place alone says netfilter; the fix finds the rule.
            auto untraced = run({syn(ends), syn_drop(ends, k.netfilter, "nf_hook_slow+0x9b")}, sshd_running());
            ASSERT_EQ(codes(untraced), std::vector<std::string>{"firewall-drop"}) << label(k, ends);
            EXPECT_EQ(untraced.causes[0].fix.front(), "find the rule: nft -a list ruleset | grep -w 'dport 22'");
        }
}

TEST(DropFallback, NftRejectIsFirewallRejectOnEveryKernel) {
    for (const KernelShape& k : {k5_10, k5_15, k6_1})
        for (const Ends& ends : {v4, v6}) {
            // reject with tcp reset: the RST leaves before the SYN's NF_DROP.
            Event rst = ev(EventKind::tx_rst, ends, 1001);
            auto d = run({syn(ends), rst, syn_drop(ends, k.netfilter, "nf_hook_slow+0x9b"), traced(ends, "reject")},
                         sshd_running());
            ASSERT_EQ(codes(d), std::vector<std::string>{"firewall-reject"}) << label(k, ends);
            EXPECT_EQ(d.causes[0].fix.front(), "nft delete rule inet filter input handle 3") << label(k, ends);
            EXPECT_NE(d.flows[0].detail.find("the client got a TCP RST"), std::string::npos) << d.flows[0].detail;
            // reject (ICMP): without icmp_send, the error is seen leaving on net_dev_queue.
            Event icmp = ev(EventKind::icmp_sent, ends, 1001);
            icmp.icmp_type = ends.v6() ? 1 : 3;
            icmp.icmp_code = ends.v6() ? 4 : 3;
            auto untraced = run({syn(ends), icmp, syn_drop(ends, k.netfilter, "nf_hook_slow+0x9b")}, sshd_running());
            ASSERT_EQ(codes(untraced), std::vector<std::string>{"firewall-reject"}) << label(k, ends);
            EXPECT_NE(untraced.flows[0].detail.find("port unreachable"), std::string::npos) << untraced.flows[0].detail;
            EXPECT_EQ(untraced.causes[0].fix.front(), "find the rule: nft -a list ruleset | grep -w 'dport 22'");
        }
}

TEST(DropFallback, HealthyIsAcceptedOnEveryKernel) {
    for (const Ends& ends : {v4, v6}) {
        auto d = run({syn(ends), ev(EventKind::tx_synack, ends, 1001), ev(EventKind::established, ends, 1002)},
                     sshd_running());
        EXPECT_EQ(codes(d), std::vector<std::string>{"accepted"});
    }
}

// Weaker evidence infers nothing: the drop stays the kernel's, with its place.
TEST(DropFallback, ADropInTcpRcvWithoutARstStaysAKernelDrop) {
    auto d = run({syn(v4), syn_drop(v4, "", "tcp_v4_rcv+0x6d4")}, sshd_running());
    ASSERT_EQ(codes(d), std::vector<std::string>{"kernel-drop"});
    EXPECT_EQ(d.causes[0].summary, "the kernel drops SYNs to 192.0.2.2:22 in tcp_v4_rcv (this kernel gives no drop reason)");
    EXPECT_EQ(d.causes[0].fix.front(), "look up where tcp_v4_rcv frees packets (kfree_skb calls) in this kernel's source");
    EXPECT_NE(d.flows[0].detail.find("at tcp_v4_rcv+0x6d4 (this kernel gives no drop reason)"), std::string::npos)
        << d.flows[0].detail;
}

TEST(DropFallback, ADropAtAnUnknownPlaceStaysAKernelDropEvenWithARst) {
    Event rst = ev(EventKind::tx_rst, v4, 1001);
    for (const char* location : {"__netif_receive_skb_core+0x4dc", "0xffffffff81a2b3c4", "tcp_v4_rcv_x+0x10"}) {
        auto d = run({syn(v4), rst, syn_drop(v4, "", location)}, sshd_stopped());
        ASSERT_EQ(codes(d), std::vector<std::string>{"kernel-drop"}) << location;
        EXPECT_EQ(d.flows[0].detail.find("inferred"), std::string::npos) << d.flows[0].detail;
    }
    // Not the SYN: an ACK refused after the handshake began says nothing about a listener.
    Event ack = syn_drop(v4, "", "tcp_v4_rcv+0x6d4");
    ack.tcp_flags = 0x10;
    EXPECT_EQ(codes(run({syn(v4), rst, ack}, sshd_stopped())), std::vector<std::string>{"kernel-drop"});
}

TEST(DropFallback, ADuplicateSynDiscardedWithoutReasonIsNotAKernelDrop) {
    auto d = run({syn(v4), ev(EventKind::tx_synack, v4, 1001), syn(v4, 2000), syn_drop(v4, "", "tcp_v4_rcv+0x6d4", 2001)},
                 sshd_running());
    EXPECT_EQ(codes(d), std::vector<std::string>{"handshake-incomplete"});
}

TEST(DropFallback, AFullConntrackTableWithoutReasonsIsStillNamed) {
    HostSnapshot h = sshd_running();
    h.conntrack_count = h.conntrack_max = 65536;
    auto d = run({syn(v4), syn_drop(v4, "", "nf_hook_slow+0x9b")}, h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"kernel-drop"});
    EXPECT_NE(d.causes[0].summary.find("the conntrack table is full (65536/65536)"), std::string::npos) << d.causes[0].summary;
    EXPECT_EQ(d.causes[0].fix.front(),
              "raise the limit, in the root network namespace (one limit for all): sysctl -w net.netfilter.nf_conntrack_max=131072");
}

TEST(DropFallback, AReplyDroppedByNetfilterWithoutReasonIsReplyDropped) {
    Event out = syn_drop(v4, "", "nf_hook_slow+0x9b");
    out.outbound = true;
    out.tcp_flags = 0x12;
    auto d = run({syn(v4), ev(EventKind::tx_synack, v4, 1001), out}, sshd_running());
    ASSERT_EQ(codes(d), std::vector<std::string>{"reply-dropped"});
    EXPECT_EQ(d.causes[0].fix.front(), "find the output rule: nft -a list ruleset | grep -w 'sport 22'");
    EXPECT_NE(d.flows[0].detail.find("inferred NETFILTER_DROP from the drop in nf_hook_slow"), std::string::npos);
}

TEST(DropFallback, DoctorLineNamesEveryRow) {
    EXPECT_EQ(describe_drop_fallbacks(),
              "tcp_v4_rcv, tcp_v6_rcv with a RST sent and no socket: NO_SOCKET; "
              "nf_hook_slow, nft_do_chain, ipt_do_table, ip6t_do_table: NETFILTER_DROP");
}

// ---- the kernel's shape, from its BTF --------------------------------------------------------

namespace {

using BtfPtr = std::unique_ptr<struct btf, decltype(&btf__free)>;

void add_tracepoint(struct btf* b, const char* name, int nargs) {
    int void_ptr = btf__add_ptr(b, 0);
    int proto = btf__add_func_proto(b, 0);
    btf__add_func_param(b, "__data", void_ptr);
    for (int i = 0; i < nargs; i++) btf__add_func_param(b, "", void_ptr);
    btf__add_typedef(b, (std::string("btf_trace_") + name).c_str(), btf__add_ptr(b, proto));
}

// tracepoints: {name, arguments}; reasons: enum skb_drop_reason's names (none: no enum).
BtfPtr kernel_btf(std::initializer_list<std::pair<const char*, int>> tracepoints,
                  std::initializer_list<const char*> reasons) {
    BtfPtr b(btf__new_empty(), btf__free);
    for (const auto& [name, nargs] : tracepoints) add_tracepoint(b.get(), name, nargs);
    if (reasons.size()) {
        btf__add_enum(b.get(), "skb_drop_reason", 4);
        int value = 0;
        for (const char* r : reasons) btf__add_enum_value(b.get(), r, value++);
    }
    return b;
}

std::vector<kernel::SignalFallback::Gap> gaps(const struct btf* b) {
    std::vector<kernel::SignalFallback::Gap> out;
    for (const auto& f : kernel::signal_fallbacks(b)) out.push_back(f.gap);
    return out;
}

}  // namespace

TEST(DropFallback, TheKernelsBtfSaysWhichFallbacksAreInUse) {
    using Gap = kernel::SignalFallback::Gap;
    auto k5_10_btf = kernel_btf({{"kfree_skb", 2}, {"tcp_send_reset", 2}, {"net_dev_queue", 1}}, {});
    EXPECT_EQ(gaps(k5_10_btf.get()), (std::vector<Gap>{Gap::drop_reason, Gap::reset_without_socket, Gap::icmp_send}));
    auto k5_15_btf = kernel_btf({{"kfree_skb", 3}, {"tcp_send_reset", 2}, {"net_dev_queue", 1}},
                                {"SKB_DROP_REASON_NOT_SPECIFIED", "SKB_DROP_REASON_NO_SOCKET"});
    EXPECT_EQ(gaps(k5_15_btf.get()), (std::vector<Gap>{Gap::netfilter_reason, Gap::reset_without_socket, Gap::icmp_send}));
    auto k6_18_btf = kernel_btf({{"kfree_skb", 4}, {"tcp_send_reset", 3}, {"icmp_send", 3}, {"net_dev_queue", 1}},
                                {"SKB_NOT_DROPPED_YET", "SKB_DROP_REASON_NO_SOCKET", "SKB_DROP_REASON_NETFILTER_DROP"});
    EXPECT_TRUE(gaps(k6_18_btf.get()).empty());
    // Without net_dev_queue nothing stands in for the answers: doctor says so.
    auto bare = kernel_btf({{"kfree_skb", 2}, {"tcp_send_reset", 2}}, {});
    auto fallbacks = kernel::signal_fallbacks(bare.get());
    ASSERT_EQ(fallbacks.size(), 3u);
    EXPECT_EQ(fallbacks[1].stand_in, "nothing (net_dev_queue is missing too)");
    EXPECT_EQ(kernel::signal_fallbacks(k5_10_btf.get())[2].stand_in, "ICMP errors seen leaving on net_dev_queue");
}

TEST(DropFallback, ADropOnAKernelWithoutReasonsDecodesToNoReason) {
    auto k5_10_btf = kernel_btf({{"kfree_skb", 2}}, {});
    KernelNames names;
    names.drop_reasons = kernel::enum_names(k5_10_btf.get(), "skb_drop_reason", "SKB_DROP_REASON_");
    names.symbolize = [](uint64_t) { return std::string("tcp_v4_rcv+0x6d4"); };
    synwhy_event r{};
    r.kind = SYNWHY_EV_DROP;
    r.family = AF_INET;
    uint8_t s[4] = {192, 0, 2, 1}, dst[4] = {192, 0, 2, 2};
    std::memcpy(r.saddr, s, 4);
    std::memcpy(r.daddr, dst, 4);
    r.sport = 40000;
    r.dport = 22;
    r.tcp_flags = 0x02;
    r.location = 0xffffffff81a2b3c4ULL;
    Event e;
    ASSERT_TRUE(decode_event(&r, sizeof r, PortSet({22}), names, 0, e));
    EXPECT_EQ(e.reason, "");
    EXPECT_EQ(e.location, "tcp_v4_rcv+0x6d4");
}
