// What the diagnosis's parts share: the words for endpoints, listeners and drops, the lookups on
// a host snapshot, and the evidence lines several causes repeat. Internal to diagnosis/; the
// helpers the renderers and tests use are declared in diagnose.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diagnosis/diagnose.h"

namespace synwhy::detail {

inline constexpr uint8_t tcp_syn = 0x02;
inline constexpr uint8_t tcp_rst = 0x04;
inline constexpr uint8_t tcp_ack = 0x10;

inline bool is_netfilter_drop(const Event& e) { return e.reason == "NETFILTER_DROP"; }
inline bool is_no_socket(const std::string& reason) { return reason == "NO_SOCKET"; }

// Words.
std::string firewall_backend(const Event& drop);  // "nftables", "iptables-legacy" or "netfilter"
std::string icmp_name(const Event& e);           // "ICMP port unreachable"
std::string describe_foreign(const ForeignListener& f);  // "sshd (pid 9) on 0.0.0.0:22 in netns ctr"
std::string mismatch_reason(const Listener& l, const IpAddr& dst);
std::string family_name(Family f);  // "IPv4", "IPv6"
std::string join(const std::vector<std::string>& parts, const std::string& sep);
std::string plural(uint64_t n, const char* one, const char* many);  // "1 SYN", "3 SYNs"
std::string clock_time(uint64_t epoch_s);   // local wall-clock time, "03:01:02"
// "XDP program 42 'xdp_drop' on eth0 (xdpgeneric), held by pid 123 (foo)"
std::string describe_net_program(const NetProgram& p);

// Lookups on a snapshot (nullptr: none taken, nothing found).
std::vector<const Listener*> listeners_on(const HostSnapshot* host, uint16_t port);
std::vector<const Listener*> sshd_elsewhere(const HostSnapshot* host, uint16_t port,
                                            const std::vector<uint16_t>& watched);
std::vector<const ForeignListener*> foreign_on(const HostSnapshot* host, uint16_t port);
bool conntrack_nearly_full(const HostSnapshot* host);
bool has_manager(const HostSnapshot* host, const std::string& name);  // found in host->firewall_managers

// Evidence lines.
std::vector<std::string> listener_evidence(const HostSnapshot* host, uint16_t port);
std::vector<std::string> sshd_state_evidence(const HostSnapshot* host);
std::vector<std::string> search_limit_evidence(const HostSnapshot* host);

inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

inline void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

}  // namespace synwhy::detail
