// Reason names and tracepoint shapes come from the BTF of the kernel synwhy runs on, never from
// numbers compiled in: two fixture BTF blobs, built here with libbpf's writer, give the same
// reasons different numbers (as 6.1 and 6.18 do) and tracepoints different arities, and the same
// record decodes to the name each blob gives its number.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cstring>
#include <memory>

#include <bpf/btf.h>

#include "kernel/btf_names.h"
#include "synwhy_events.h"
#include "tracer/decode.h"

using namespace synwhy;

namespace {

using BtfPtr = std::unique_ptr<struct btf, decltype(&btf__free)>;

struct EnumValue {
    const char* name;
    int64_t value;
};

int add_enum(struct btf* b, const char* name, std::initializer_list<EnumValue> values) {
    int id = btf__add_enum(b, name, 4);
    for (const auto& v : values) btf__add_enum_value(b, v.name, v.value);
    return id;
}

// typedef void (*btf_trace_NAME)(void *__data, <nargs pointer args>), as the kernel declares them.
void add_tracepoint(struct btf* b, const char* name, int nargs) {
    int void_ptr = btf__add_ptr(b, 0);
    int proto = btf__add_func_proto(b, 0);
    btf__add_func_param(b, "__data", void_ptr);
    for (int i = 0; i < nargs; i++) btf__add_func_param(b, "", void_ptr);
    int fn_ptr = btf__add_ptr(b, proto);
    btf__add_typedef(b, (std::string("btf_trace_") + name).c_str(), fn_ptr);
}

// A 6.1-like kernel: NO_SOCKET is 2, NETFILTER_DROP 8; no enum sk_rst_reason; tcp_send_reset(sk, skb).
BtfPtr kernel_6_1() {
    BtfPtr b(btf__new_empty(), btf__free);
    add_enum(b.get(), "skb_drop_reason",
             {{"SKB_NOT_DROPPED_YET", 0}, {"SKB_DROP_REASON_NOT_SPECIFIED", 1}, {"SKB_DROP_REASON_NO_SOCKET", 2},
              {"SKB_DROP_REASON_NETFILTER_DROP", 8}});
    add_tracepoint(b.get(), "kfree_skb", 3);
    add_tracepoint(b.get(), "tcp_send_reset", 2);
    return b;
}

// A 6.18-like kernel: the same names with other numbers, enum sk_rst_reason, and a 4-argument
// kfree_skb(skb, location, reason, rx_sk).
BtfPtr kernel_6_18() {
    BtfPtr b(btf__new_empty(), btf__free);
    add_enum(b.get(), "skb_drop_reason",
             {{"SKB_NOT_DROPPED_YET", 0}, {"SKB_CONSUMED", 1}, {"SKB_DROP_REASON_NOT_SPECIFIED", 2},
              {"SKB_DROP_REASON_NO_SOCKET", 3}, {"SKB_DROP_REASON_NETFILTER_DROP", 12}});
    add_enum(b.get(), "sk_rst_reason", {{"SK_RST_REASON_NOT_SPECIFIED", 0}, {"SK_RST_REASON_NO_SOCKET", 1}});
    add_tracepoint(b.get(), "kfree_skb", 4);
    add_tracepoint(b.get(), "tcp_send_reset", 3);
    return b;
}

KernelNames names_from(const struct btf* b) {
    KernelNames n;
    n.drop_reasons = kernel::enum_names(b, "skb_drop_reason", "SKB_DROP_REASON_");
    n.reset_reasons = kernel::enum_names(b, "sk_rst_reason", "SK_RST_REASON_");
    n.symbolize = [](uint64_t) { return std::string("nft_do_chain+0x46f"); };
    return n;
}

// A drop of the SYN 192.0.2.1:40000 -> 192.0.2.2:22 with the given raw reason number.
std::string decoded_drop_reason(const KernelNames& names, uint32_t reason) {
    synwhy_event r{};
    r.kind = SYNWHY_EV_DROP;
    r.family = AF_INET;
    uint8_t s[4] = {192, 0, 2, 1}, d[4] = {192, 0, 2, 2};
    std::memcpy(r.saddr, s, 4);
    std::memcpy(r.daddr, d, 4);
    r.sport = 40000;
    r.dport = 22;
    r.tcp_flags = 0x02;
    r.reason = reason;
    r.location = 0xffffffff81000000ULL;
    Event e;
    EXPECT_TRUE(decode_event(&r, sizeof(r), PortSet({22}), names, 0, e));
    return e.reason;
}

}  // namespace

TEST(BtfFixtures, TheSameNameHasTheNumberEachKernelGivesIt) {
    auto old_kernel = kernel_6_1(), new_kernel = kernel_6_18();
    auto old_names = names_from(old_kernel.get()), new_names = names_from(new_kernel.get());
    EXPECT_EQ(decoded_drop_reason(old_names, 2), "NO_SOCKET");
    EXPECT_EQ(decoded_drop_reason(new_names, 3), "NO_SOCKET");
    EXPECT_EQ(decoded_drop_reason(old_names, 8), "NETFILTER_DROP");
    EXPECT_EQ(decoded_drop_reason(new_names, 12), "NETFILTER_DROP");
    // The same number means different things on the two kernels.
    EXPECT_EQ(decoded_drop_reason(old_names, 3), "REASON_3");
    EXPECT_EQ(decoded_drop_reason(new_names, 2), "NOT_SPECIFIED");
    // Values without the prefix keep their whole name (SKB_CONSUMED is no drop reason).
    EXPECT_EQ(new_names.drop_reasons.at(1), "SKB_CONSUMED");
}

TEST(BtfFixtures, ResetReasonsExistOnlyWhereTheKernelHasTheEnum) {
    auto old_kernel = kernel_6_1(), new_kernel = kernel_6_18();
    EXPECT_TRUE(names_from(old_kernel.get()).reset_reasons.empty());
    EXPECT_EQ(names_from(new_kernel.get()).reset_reasons.at(1), "NO_SOCKET");
}

TEST(BtfFixtures, TracepointArityPicksTheProgramVariant) {
    auto old_kernel = kernel_6_1(), new_kernel = kernel_6_18();
    EXPECT_EQ(kernel::tracepoint_arg_count(old_kernel.get(), "kfree_skb"), 3);
    EXPECT_EQ(kernel::tracepoint_arg_count(new_kernel.get(), "kfree_skb"), 4);
    EXPECT_EQ(kernel::tracepoint_arg_count(old_kernel.get(), "tcp_send_reset"), 2);
    EXPECT_EQ(kernel::tracepoint_arg_count(new_kernel.get(), "tcp_send_reset"), 3);
    EXPECT_FALSE(kernel::tracepoint_arg_count(old_kernel.get(), "icmp_send"));  // no such tracepoint on 6.1
}
