// The BPF side's records: struct synwhy_event from the ring buffer (decode_event) and the exact
// per-(netns, port) totals of map `counts` (name_kernel_counts).
// First byte even: the rest is one ring buffer record, of the size the ring buffer gave.
// First byte odd: the rest is a list of KernelCount, 20 bytes each (netns u32, port u16, kind u8,
// what u8, reason u32, count u64, host order).
#include <linux/types.h>
#include <sys/socket.h>

#include <cstring>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "fuzz_common.h"
#include "synwhy_events.h"
#include "tracer/decode.h"

using namespace synwhy;

namespace {

const KernelNames& names() {
    static const KernelNames n = [] {
        KernelNames k;
        k.drop_reasons = {{2, "NOT_SPECIFIED"}, {3, "NO_SOCKET"}, {5, "NETFILTER_DROP"}};
        k.reset_reasons = {{0, "NOT_SPECIFIED"}, {1, "NO_SOCKET"}};
        k.symbolize = [](uint64_t addr) { return fmt::format("nft_do_chain+{:#x}", addr & 0xfff); };
        return k;
    }();
    return n;
}

void fuzz_event(const uint8_t* data, size_t size) {
    static const PortSet ports({22, 2222});
    Event e;
    e.ifname = "untouched";
    bool ok = decode_event(data, size, ports, names(), 1000, e);
    if (size < sizeof(synwhy_event)) FUZZ_CHECK(!ok);
    if (!ok) {
        FUZZ_CHECK(e.ifname == "untouched");  // a refused record leaves the output alone
        return;
    }
    synwhy_event r;
    std::memcpy(&r, data, sizeof r);
    FUZZ_CHECK(r.family == AF_INET || r.family == AF_INET6);
    FUZZ_CHECK(e.packet.size() <= SYNWHY_PACKET_BYTES && e.packet.size() == std::min<size_t>(r.packet_len, SYNWHY_PACKET_BYTES));
    FUZZ_CHECK(e.ifname.size() <= sizeof r.ifname && e.comm.size() <= sizeof r.comm);
    FUZZ_CHECK(e.ifname.find('\0') == std::string::npos && e.comm.find('\0') == std::string::npos);
    FUZZ_CHECK(e.src.family == e.dst.family);
    FUZZ_CHECK(e.ts_ns == r.ts_ns + 1000);
    switch (e.kind) {
    case EventKind::drop:
        FUZZ_CHECK(r.kind == SYNWHY_EV_DROP && !e.reason.empty() && !e.location.empty());
        if (e.outbound) FUZZ_CHECK(ports.contains(e.dport) && !ports.contains(e.sport));
        else FUZZ_CHECK(e.dport == r.dport);
        break;
    case EventKind::syn_rx:
        FUZZ_CHECK(r.kind == SYNWHY_EV_SYN_RX && e.dport == r.dport && e.sport == r.sport && !e.outbound);
        break;
    case EventKind::process_exit:
        FUZZ_CHECK(e.sport == 0 && e.dport == 0 && e.exit_code == r.exit_code);
        break;
    case EventKind::established:
        FUZZ_CHECK(r.old_state == 3 && r.new_state == 1);
        [[fallthrough]];
    case EventKind::listen_change:
        FUZZ_CHECK(r.kind == SYNWHY_EV_STATE && e.sport == r.dport && e.dport == r.sport);
        break;
    case EventKind::tx_rst:
    case EventKind::tx_synack:
    case EventKind::synack_retrans:
    case EventKind::icmp_sent:
        FUZZ_CHECK(e.outbound);
        break;
    case EventKind::rst_sent:
        FUZZ_CHECK(e.reason.empty() == (r.reason == 0));
        break;
    case EventKind::firewall_verdict:
        FUZZ_CHECK(!"the kernel never sends firewall verdicts");
    }
}

void fuzz_counts(const uint8_t* data, size_t size) {
    std::vector<KernelCount> counts;
    uint64_t expected_total = 0;
    for (size_t off = 0; off + 20 <= size; off += 20) {
        KernelCount c;
        std::memcpy(&c.netns, data + off, 4);
        std::memcpy(&c.port, data + off + 4, 2);
        c.kind = data[off + 6];
        c.what = data[off + 7];
        std::memcpy(&c.reason, data + off + 8, 4);
        std::memcpy(&c.count, data + off + 12, 8);
        // Named kinds: the event kinds and the count-only kinds (forwarded SYNs, SYNs sent on,
        // SYNs DNATed here).
        if ((c.kind >= SYNWHY_EV_SYN_RX && c.kind <= SYNWHY_EV_STATE) || c.kind == SYNWHY_COUNT_SYN_FORWARDED ||
            c.kind == SYNWHY_COUNT_SYN_AGAIN || c.kind == SYNWHY_COUNT_SYN_DNAT_HERE)
            expected_total += c.count;  // wraps alike
        counts.push_back(c);
    }
    auto totals = name_kernel_counts(counts, names());
    uint64_t total = 0;
    for (size_t i = 0; i < totals.size(); i++) {
        FUZZ_CHECK(!totals[i].what.empty());
        total += totals[i].count;
        if (i) {
            auto a = std::tie(totals[i - 1].netns, totals[i - 1].port, totals[i - 1].what);
            auto b = std::tie(totals[i].netns, totals[i].port, totals[i].what);
            FUZZ_CHECK(a < b);  // one line per (netns, port, what), in order
        }
    }
    FUZZ_CHECK(total == expected_total);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1) fuzz_counts(data + 1, size - 1);
    else fuzz_event(data + 1, size - 1);
    return 0;
}
