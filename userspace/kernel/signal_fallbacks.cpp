#include "kernel/signal_fallbacks.h"

#include <algorithm>

#include "kernel/btf_names.h"

namespace synwhy::kernel {

namespace {

bool has_name(const EnumNames& names, const std::string& name) {
    return std::any_of(names.begin(), names.end(), [&](const auto& v) { return v.second == name; });
}

// Answers are also seen as they leave a device, whoever sent them.
std::string on_the_wire(bool tx, const std::string& what) {
    return tx ? what + " seen leaving on net_dev_queue" : "nothing (net_dev_queue is missing too)";
}

}  // namespace

std::vector<SignalFallback> signal_fallbacks(const struct btf* btf) {
    using Gap = SignalFallback::Gap;
    std::vector<SignalFallback> out;
    auto kfree_args = tracepoint_arg_count(btf, "kfree_skb");
    auto reset_args = tracepoint_arg_count(btf, "tcp_send_reset");
    bool tx = tracepoint_arg_count(btf, "net_dev_queue").has_value();
    EnumNames reasons = enum_names(btf, "skb_drop_reason", "SKB_DROP_REASON_");
    const std::string located = "the drop's location (kallsyms) and the answers sent";
    if (!kfree_args || *kfree_args < 3 || reasons.empty())
        out.push_back({Gap::drop_reason, "drop reasons (kfree_skb has them from 5.17)", located});
    else if (!has_name(reasons, "NETFILTER_DROP"))
        out.push_back({Gap::netfilter_reason, "drop reasons for netfilter and some TCP paths (NOT_SPECIFIED)", located});
    // sk_rst_reason came with the tracepoint firing for socketless RSTs (6.10).
    if (!reset_args || *reset_args < 3)
        out.push_back({Gap::reset_without_socket, "tcp_send_reset for a RST sent without a socket (from 6.10)",
                       on_the_wire(tx, "the RST")});
    if (!tracepoint_arg_count(btf, "icmp_send"))
        out.push_back({Gap::icmp_send, "icmp_send tracepoint", on_the_wire(tx, "ICMP errors")});
    return out;
}

}  // namespace synwhy::kernel
