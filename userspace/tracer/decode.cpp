#include "tracer/decode.h"

#include <map>
#include <tuple>

#include <linux/types.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "firewall/event_clock.h"
#include "synwhy_events.h"

namespace synwhy {

namespace {

IpAddr make_addr(uint16_t family, const uint8_t* bytes) {
    IpAddr a;
    a.family = family == AF_INET6 ? Family::ipv6 : Family::ipv4;
    std::memcpy(a.bytes.data(), bytes, a.family == Family::ipv4 ? 4 : 16);
    return a;
}

std::string ifname_of(const synwhy_event& r) {
    return std::string(r.ifname, strnlen(r.ifname, sizeof r.ifname));
}

// The kernel records a reset reason + 1 (0: the kernel has none): its name, or "".
std::string reset_reason_name(const KernelNames& names, uint32_t reason_plus_one) {
    if (reason_plus_one == 0) return "";
    auto it = names.reset_reasons.find(reason_plus_one - 1);
    return it != names.reset_reasons.end() ? it->second : "REASON_" + std::to_string(reason_plus_one - 1);
}

}  // namespace

bool decode_event(const void* data, size_t size, const PortSet& ports, const KernelNames& names,
                  int64_t monotonic_to_realtime_ns, Event& out) {
    if (size < sizeof(synwhy_event)) return false;
    synwhy_event r;
    std::memcpy(&r, data, sizeof r);
    if (r.family != AF_INET && r.family != AF_INET6) return false;

    Event e;
    e.ts_ns = firewall::event_time_ns(r.ts_ns, monotonic_to_realtime_ns);
    e.netns = r.netns;
    e.ifindex = r.ifindex;
    e.ifname = ifname_of(r);
    e.vlan_id = r.vlan_id;
    if (r.packet_len) e.packet.assign(r.packet, r.packet + std::min<size_t>(r.packet_len, sizeof r.packet));
    e.src = make_addr(r.family, r.saddr);
    e.dst = make_addr(r.family, r.daddr);
    e.sport = r.sport;
    e.dport = r.dport;
    if (r.nat_dport) {
        e.nat_dst = make_addr(r.family, r.nat_daddr);
        e.nat_dport = r.nat_dport;
    }
    e.tcp_flags = r.tcp_flags;
    e.icmp_type = r.icmp_type;
    e.icmp_code = r.icmp_code;
    e.pid = r.pid;
    e.comm = std::string(r.comm, strnlen(r.comm, sizeof r.comm));

    // Orient everything as the inbound SYN: src = client, dst = server.
    auto swap_ends = [&e] {
        std::swap(e.src, e.dst);
        std::swap(e.sport, e.dport);
    };

    switch (r.kind) {
    case SYNWHY_EV_SYN_RX:
        e.kind = EventKind::syn_rx;
        e.sent_on = r.reason == SYNWHY_SYN_AGAIN;
        break;
    case SYNWHY_EV_DROP:
        e.kind = EventKind::drop;
        if (!ports.contains(r.dport) && ports.contains(r.sport)) {
            e.outbound = true;  // a reply from the watched port was dropped
            swap_ends();
        }
        e.reason = kernel::drop_reason_name(names.drop_reasons, r.reason);
        if (names.symbolize) e.location = names.symbolize(r.location);
        break;
    case SYNWHY_EV_RST_SENT:
        e.kind = EventKind::rst_sent;
        e.reason = reset_reason_name(names, r.reason);
        break;
    case SYNWHY_EV_ICMP_SENT:
        e.kind = EventKind::icmp_sent;
        e.outbound = true;
        break;
    case SYNWHY_EV_TX:
        e.outbound = true;
        if (r.icmp_type) {
            e.kind = EventKind::icmp_sent;  // the quoted packet is the client's segment already
        } else {
            e.kind = (r.tcp_flags & 0x04) ? EventKind::tx_rst : EventKind::tx_synack;
            swap_ends();
        }
        break;
    case SYNWHY_EV_STATE:
        swap_ends();  // the socket's local end is the server
        // An IPv4 connection on a dual-stack socket has v4-mapped ends: key it as the IPv4 SYN.
        if (auto s4 = e.src.v4_mapped(), d4 = e.dst.v4_mapped(); s4 && d4) {
            e.src = *s4;
            e.dst = *d4;
        }
        if (r.old_state == 3 /* SYN_RECV */ && r.new_state == 1 /* ESTABLISHED */)
            e.kind = EventKind::established;
        else
            e.kind = EventKind::listen_change;
        e.old_state = r.old_state;
        e.new_state = r.new_state;
        break;
    case SYNWHY_EV_EXIT:
        e.kind = EventKind::process_exit;
        e.src = e.dst = IpAddr{};
        e.sport = e.dport = 0;
        e.exit_code = r.exit_code;
        break;
    case SYNWHY_EV_SYNACK_RETRANS:
        e.kind = EventKind::synack_retrans;
        e.outbound = true;
        swap_ends();
        break;
    default:
        return false;
    }
    out = std::move(e);
    return true;
}

std::vector<KernelTotal> name_kernel_counts(const std::vector<KernelCount>& counts, const KernelNames& names) {
    std::map<std::tuple<uint32_t, uint16_t, std::string>, uint64_t> totals;
    for (const auto& c : counts) {
        std::string what;
        bool rst = c.what & 0x04, syn = c.what & 0x02, ack = c.what & 0x10;
        std::string segment = rst ? "RST" : syn && ack ? "SYN-ACK" : syn ? "SYN" : ack ? "ACK" : "segment";
        switch (c.kind) {
        case SYNWHY_EV_SYN_RX: what = "SYN arrived"; break;
        case SYNWHY_COUNT_SYN_FORWARDED: what = "SYN forwarded (to an address not this namespace's)"; break;
        case SYNWHY_COUNT_SYN_AGAIN: what = "SYN arrived again (sent on by another watched namespace's DNAT)"; break;
        case SYNWHY_COUNT_SYN_DNAT_HERE:
            what = "SYN to another address DNATed to this namespace (in SYN arrived and SYN forwarded)";
            break;
        case SYNWHY_EV_DROP: {
            std::string reason = kernel::drop_reason_name(names.drop_reasons, c.reason);
            what = reason.empty() ? segment + " dropped (no reason on this kernel)"
                                  : fmt::format("{} dropped: {}", segment, reason);
            break;
        }
        case SYNWHY_EV_RST_SENT: {
            std::string reason = reset_reason_name(names, c.reason);
            what = reason.empty() ? "answered with RST by TCP" : "answered with RST by TCP (" + reason + ")";
            break;
        }
        case SYNWHY_EV_ICMP_SENT: what = "ICMP error sent"; break;
        case SYNWHY_EV_STATE: what = "handshake completed"; break;
        case SYNWHY_EV_TX:
            // An ICMP error leaving has reason = its type + 1.
            what = c.reason ? "ICMP error left" : segment + " left";
            break;
        default: continue;
        }
        totals[{c.netns, c.port, what}] += c.count;
    }
    std::vector<KernelTotal> out;
    for (const auto& [key, n] : totals) out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
    return out;
}

}  // namespace synwhy
