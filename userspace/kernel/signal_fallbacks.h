// Kernel signals this kernel lacks, and what synwhy reads in their place: read from its BTF (the
// same tracepoint shapes the tracer chooses its program variants by), listed by `synwhy doctor`.
#pragma once

#include <string>
#include <vector>

struct btf;

namespace synwhy::kernel {

struct SignalFallback {
    enum class Gap {
        drop_reason,           // kfree_skb has no reason (before 5.17)
        netfilter_reason,      // reasons, but none for netfilter (5.15.y's partial backport)
        reset_without_socket,  // tcp_send_reset does not fire for a RST sent without a socket
        icmp_send,             // no icmp_send tracepoint
    };
    Gap gap;
    std::string missing;   // what this kernel does not give
    std::string stand_in;  // what synwhy reads instead
};

std::vector<SignalFallback> signal_fallbacks(const struct btf* btf);

}  // namespace synwhy::kernel
