// The diagnosis: a pure function from (kernel events, host snapshots) to per-flow verdicts and
// ranked causes. No I/O, no clock: everything it knows is in its arguments, so it is unit-tested
// on hand-built fixtures.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "diagnosis/model.h"
#include "firewall/iptables_legacy.h"

namespace synwhy {

// Cause codes, as in shared/causes.md.
namespace cause {
inline constexpr const char* no_listener = "no-listener";
inline constexpr const char* listening_elsewhere = "listening-elsewhere";
inline constexpr const char* bound_other_address = "bound-other-address";
inline constexpr const char* firewall_drop = "firewall-drop";
inline constexpr const char* firewall_reject = "firewall-reject";
inline constexpr const char* not_arriving = "not-arriving";
inline constexpr const char* other_netns = "other-netns";
inline constexpr const char* listen_overflow = "listen-overflow";
inline constexpr const char* reply_dropped = "reply-dropped";
inline constexpr const char* handshake_incomplete = "handshake-incomplete";
inline constexpr const char* kernel_drop = "kernel-drop";
// A published port's DNAT target (a container) refused the SYN: nothing listens there.
inline constexpr const char* dnat_refused = "dnat-refused";
// The handshake completed at systemd's socket for sshd, but every start of sshd's service fails.
inline constexpr const char* sshd_failing = "sshd-failing";
// The handshake completed at another program holding sshd's port: no SSH server answers.
inline constexpr const char* not_sshd = "not-sshd";
inline constexpr const char* unanswered = "unanswered";  // arrived, no answer or drop seen (yet)
inline constexpr const char* accepted = "accepted";
}  // namespace cause

// A connection attempt: the client end, the server end, the namespace it arrived in.
struct FlowKey {
    uint32_t netns = 0;
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    auto operator<=>(const FlowKey&) const = default;
    static FlowKey of(const Event& e) { return {e.netns, e.src, e.dst, e.sport, e.dport}; }
};

// Everything seen about one flow, folded from its events.
struct FlowEvidence {
    FlowKey key;
    std::string ifname;
    uint32_t ifindex = 0;
    uint16_t vlan_id = 0;
    uint32_t syns = 0;
    uint64_t first_ns = 0, last_ns = 0;
    uint64_t last_syn_ns = 0;      // when its latest SYN arrived
    bool established = false;
    bool rst_by_tcp = false;       // tcp_send_reset fired for it
    std::string rst_reason;
    bool rst_on_wire = false;      // a RST for it left a device (TCP's or a firewall's)
    bool synack_sent = false;
    uint32_t synack_retransmits = 0;
    std::optional<Event> inbound_drop;   // first drop of a client->server packet
    std::optional<Event> outbound_drop;  // first drop of a server->client packet
    std::optional<Event> icmp;           // first ICMP error sent for it
    std::optional<FirewallRule> inbound_rule;   // nft trace: the rule that dropped the SYN
    std::optional<FirewallRule> outbound_rule;  // nft trace: the rule that dropped the reply

    std::string accepted_elsewhere;  // the handshake completed behind a DNAT: "198.51.100.2:22 in netns N"
    // A DNAT sent the SYN on (a published port): where to (from a drop's conntrack tuple or the
    // target's own events), and the target's netns when its kernel was seen (0: not seen there).
    std::optional<IpAddr> nat_dst;
    uint16_t nat_dport = 0;
    uint32_t nat_netns = 0;
    std::optional<Event> target_drop;  // the DNAT target's kernel dropped or refused the SYN

    void add(const Event& e);
    // Whether the flow's outcome is known (no later event can change the verdict of its SYN).
    // count_wire_rst false: a RST seen leaving does not settle it (it may be a DNAT target's).
    bool settled(bool count_wire_rst = true) const;
};

// Folds one event into the flow table and returns the flow it belongs to (nullptr for events
// about no flow). A handshake completed in another namespace or on another address (a DNAT to a
// container) joins the flow whose client end it shares.
FlowEvidence* fold_event(std::map<FlowKey, FlowEvidence>& flows, const Event& e);

// The verdict on one flow against the host's state (nullptr: no snapshot of its namespace).
// watched: the ports being watched (an sshd on one of them is not "elsewhere").
// at_start: the namespace's snapshot from before the SYN, for the listener that took a handshake
// when it is gone from `host` (ssh.socket fails seconds after every sshd start failed).
Flow classify(const FlowEvidence& flow, const HostSnapshot* host, const std::vector<uint16_t>& watched = {},
              const HostSnapshot* at_start = nullptr);

struct DiagnosisInput {
    std::vector<uint16_t> ports;
    std::vector<Event> events;
    std::vector<HostSnapshot> hosts;  // one per watched netns; the first is the default
    // (The listeners and units above are the latest; see hosts_at_start for the ones before.)
    uint64_t capture_ns = 0;          // how long the capture lasted
    // iptables-legacy rules with their counters before and after the capture (nft trace cannot
    // see x_tables): a flow that legacy netfilter dropped gets the rule that fits it and grew.
    firewall::LegacyReadings legacy_rules;
    std::vector<OtherPortSyn> other_port_syns;  // for not-arriving: clients on the wrong port
    std::optional<HostnameCheck> hostname;       // for not-arriving: does the name point here
    // Snapshots taken before the capture, when `hosts` were taken after it: who accepted a
    // handshake is looked up there when it no longer listens (empty: `hosts` serve for both).
    std::vector<HostSnapshot> hosts_at_start;
};

// The snapshot of a flow's namespace: nullptr when several were taken and none is its own.
const HostSnapshot* host_for(const std::vector<HostSnapshot>& hosts, uint32_t netns);

// Whether dst is an address of the namespace (loopback included; true when none were read).
bool address_of_host(const IpAddr& dst, const HostSnapshot* host);
// Whether the SYN was addressed to the namespace itself (not forwarded through it).
bool addressed_here(const FlowEvidence& flow, const HostSnapshot* host);

// Names the legacy rule for a flow that x_tables dropped and nft trace could not attribute.
void attach_legacy_rule(FlowEvidence& flow, const firewall::LegacyReadings& legacy, const HostSnapshot* host);

Diagnosis diagnose(const DiagnosisInput& input);

// Helpers shared with the renderers and tests.
bool listener_accepts(const Listener& l, const IpAddr& dst);
std::string endpoint(const IpAddr& a, uint16_t port);  // "192.0.2.2:22", "[2001:db8::2]:22"
std::string describe_listener(const Listener& l);      // "sshd (pid 812) on 0.0.0.0:22"
std::string describe_rule(const FirewallRule& r);      // "inet filter ssh_guard handle 3 (comment ...)"
// An iptables-legacy rule known by its chain only: the counters did not single one rule out.
bool rule_known_by_chain_only(const FirewallRule& r);
// The fix for a rule that stopped `client` on `port`: its owner's own commands where a manager
// owns it (owners/rule_owners.h knows them), the raw nft/iptables command only where none does.
std::vector<std::string> rule_fix(const FirewallRule& r, uint16_t port, const IpAddr& client, const HostSnapshot* host);

}  // namespace synwhy
