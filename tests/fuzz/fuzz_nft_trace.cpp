// nft trace netlink messages (NFNLGRP_NFTRACE) through decode_trace_message, the decoder
// NftTraceSession::drain uses, and the records it yields through a TraceAssembler, as drain does.
// The input is one datagram as recv() would return it, split into messages as drain() does (with a
// strict framing check, see fuzz::for_each_nlmsg), so every message handed to the decoder has an
// nlmsg_len within the buffer.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "firewall/nft_trace.h"
#include "fuzz_common.h"

using namespace synwhy;
using namespace synwhy::firewall;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 1 << 16) return 0;
    // An aligned copy of exactly `size` bytes: a read past the datagram is an ASan report.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[size]);
    if (size) std::memcpy(buf.get(), data, size);

    static const std::string own_table = "synwhy_trace_1";
    static const std::vector<uint16_t> ports{22, 2222};
    auto watched = [](uint16_t p) { return std::find(ports.begin(), ports.end(), p) != ports.end(); };
    TraceAssembler assembler(own_table);

    fuzz::for_each_nlmsg(buf.get(), size, [&](const struct nlmsghdr* nlh) {
        TraceRecord r;
        if (!decode_trace_message(nlh, r)) return true;
        if (r.has_packet) FUZZ_CHECK(r.src.family == r.dst.family);
        auto e = assembler.add(r, ports);
        if (!e) return true;
        FUZZ_CHECK(e->kind == EventKind::firewall_verdict);
        FUZZ_CHECK(e->rule.has_value());
        const FirewallRule& rule = *e->rule;
        FUZZ_CHECK(rule.backend == "nftables" && rule.verdict == "drop");
        FUZZ_CHECK(r.verdict == NF_DROP);
        FUZZ_CHECK(rule.table == r.table && rule.table != own_table && rule.chain == r.chain);
        FUZZ_CHECK(rule.policy == (r.type == NFT_TRACETYPE_POLICY));
        FUZZ_CHECK(rule.policy ? rule.handle == 0 : rule.handle == r.handle);
        FUZZ_CHECK(e->src.family == e->dst.family);
        if (e->outbound) FUZZ_CHECK(watched(e->dport) && !watched(e->sport));
        return true;
    });
    return 0;
}
