// Drops the kernel gave no usable reason for: none at all before 5.17 (kfree_skb had no reason
// argument), NOT_SPECIFIED on paths not converted yet (tcp_v6_rcv on 5.15.y, nf_hook_slow before
// 5.17). What such a drop means is read from where the packet was freed and what answered the
// client, by the one table below. A drop it does not cover keeps its missing reason and stays a
// kernel-drop with its location: a wrong inference would print a wrong fix.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "diagnosis/diagnose.h"

namespace synwhy {

namespace drop_reason {
inline constexpr std::string_view no_socket = "NO_SOCKET";
inline constexpr std::string_view netfilter = "NETFILTER_DROP";
inline constexpr std::string_view not_specified = "NOT_SPECIFIED";
}  // namespace drop_reason

// One row: a drop in `function` means `reason`, given the evidence the row asks for.
struct DropFallback {
    std::string_view function;  // kfree_skb's caller, as kallsyms names it
    std::string_view reason;
    // Only for the SYN itself, with a RST sent to its client and no socket taking it: TCP found
    // no socket (a drop there without a RST is a checksum, MD5, policy, ... drop).
    bool needs_refusal;
};
const std::vector<DropFallback>& drop_fallbacks();

// Whether the kernel said why: not "" (it has no reasons) nor NOT_SPECIFIED.
bool has_usable_reason(const Event& drop);

// A drop's reason as the verdict reads it.
struct DropMeaning {
    std::string reason;    // the kernel's if usable, else the inferred one, else the kernel's own
    std::string inferred;  // how it was inferred, as an evidence line; "" when it was not
};
// drop: flow.inbound_drop or flow.outbound_drop.
DropMeaning drop_meaning(const FlowEvidence& flow, const Event& drop);

// For `synwhy doctor`: "tcp_v4_rcv, tcp_v6_rcv with a RST sent and no socket: NO_SOCKET; ...".
std::string describe_drop_fallbacks();

}  // namespace synwhy
