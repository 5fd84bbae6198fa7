#include "diagnosis/drop_fallback.h"

#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/describe.h"

namespace synwhy {

namespace {

using detail::tcp_ack;
using detail::tcp_syn;

// "tcp_v4_rcv+0x1a" -> "tcp_v4_rcv"; a compiler's part of it ("nf_hook_slow.cold") is the same
// function. An address kallsyms could not name ("0xffff...") matches no row.
std::string_view function_of(std::string_view location) {
    location = location.substr(0, location.find('+'));
    return location.substr(0, location.find('.'));
}

// The SYN was refused by TCP: a RST went to its client and no socket took the connection.
bool refused_syn(const FlowEvidence& f, const Event& drop) {
    bool syn = (drop.tcp_flags & (tcp_syn | tcp_ack)) == tcp_syn;
    return syn && !drop.outbound && f.rst_on_wire && !f.established && f.accepted_elsewhere.empty();
}

std::string inference_line(const Event& drop, const DropFallback& row) {
    std::string missing = drop.reason.empty() ? "no drop reason on this kernel"
                                              : fmt::format("drop reason {}", drop.reason);
    return fmt::format("{}: inferred {} from the drop in {}{}", missing, row.reason, row.function,
                       row.needs_refusal ? " and the RST sent" : "");
}

}  // namespace

const std::vector<DropFallback>& drop_fallbacks() {
    static const std::vector<DropFallback> table = {
        // No socket: tcp_v*_send_reset(NULL, skb), then discard_it. tcp_send_reset fires there
        // only from 6.10, so the RST is seen leaving (net_dev_queue).
        {"tcp_v4_rcv", drop_reason::no_socket, true},
        {"tcp_v6_rcv", drop_reason::no_socket, true},
        // NF_DROP: nf_hook_slow frees the packet (nft_do_chain from 6.7); nothing else frees there.
        {"nf_hook_slow", drop_reason::netfilter, false},
        {"nft_do_chain", drop_reason::netfilter, false},
        {"ipt_do_table", drop_reason::netfilter, false},
        {"ip6t_do_table", drop_reason::netfilter, false},
    };
    return table;
}

bool has_usable_reason(const Event& drop) {
    return !drop.reason.empty() && drop.reason != drop_reason::not_specified;
}

DropMeaning drop_meaning(const FlowEvidence& flow, const Event& drop) {
    if (has_usable_reason(drop)) return {drop.reason, ""};
    std::string_view function = function_of(drop.location);
    for (const DropFallback& row : drop_fallbacks()) {
        if (row.function != function || (row.needs_refusal && !refused_syn(flow, drop))) continue;
        return {std::string(row.reason), inference_line(drop, row)};
    }
    return {drop.reason, ""};
}

std::string describe_drop_fallbacks() {
    std::string out;
    for (std::string_view reason : {drop_reason::no_socket, drop_reason::netfilter}) {
        std::string functions, evidence;
        for (const DropFallback& row : drop_fallbacks()) {
            if (row.reason != reason) continue;
            functions += (functions.empty() ? "" : ", ") + std::string(row.function);
            if (row.needs_refusal) evidence = " with a RST sent and no socket";
        }
        out += fmt::format("{}{}{}: {}", out.empty() ? "" : "; ", functions, evidence, reason);
    }
    return out;
}

}  // namespace synwhy
