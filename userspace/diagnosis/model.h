// The data the diagnosis works on: decoded kernel events and a snapshot of the host.
// Plain structs only, no I/O: the tracer and the host probes fill them, the diagnosis reads them,
// and the unit tests build them by hand.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synwhy {

enum class Family : uint8_t { ipv4 = 4, ipv6 = 6 };

// An address of either family, kept in network byte order; IPv4 uses the first 4 bytes.
struct IpAddr {
    Family family = Family::ipv4;
    std::array<uint8_t, 16> bytes{};

    static std::optional<IpAddr> parse(const std::string& text);
    std::string str() const;
    bool is_unspecified() const;   // 0.0.0.0 or ::
    bool is_loopback() const;      // 127/8 or ::1
    std::optional<IpAddr> v4_mapped() const;  // ::ffff:a.b.c.d -> a.b.c.d
    auto operator<=>(const IpAddr&) const = default;
};

// What one kernel event said, with reason numbers already turned into the running kernel's names.
enum class EventKind : uint8_t {
    syn_rx,          // an inbound SYN reached a device (netif_receive_skb)
    drop,            // kfree_skb of a packet of the flow (either direction)
    rst_sent,        // tcp_send_reset: the TCP stack answered with a RST
    icmp_sent,       // icmp_send for the SYN (reject / unreachable)
    tx_rst,          // a RST from the watched port left a device (any origin, e.g. nft reject)
    tx_synack,       // a SYN-ACK from the watched port left a device
    established,     // the child socket went SYN_RECV -> ESTABLISHED
    synack_retrans,  // tcp_retransmit_synack
    listen_change,   // a socket on a watched port entered or left LISTEN
    firewall_verdict,  // nft trace: a rule or policy dropped/rejected a packet of the flow
    process_exit,    // a process that listened on a watched port exited (pid, comm, exit_code)
};

// The firewall rule (or chain policy) that decided a packet's fate, as nft trace or the
// iptables-legacy counters named it.
struct FirewallRule {
    std::string backend;          // "nftables" or "iptables-legacy"
    std::string family;           // ip, ip6, inet, ...
    std::string table;
    std::string chain;
    std::vector<std::string> path;  // chains jumped through to get there, base chain first
    uint64_t handle = 0;          // nft rule handle; 0 for a policy
    uint32_t rule_num = 0;        // iptables-legacy rule number
    bool policy = false;          // the chain's policy decided, no rule matched
    std::string text;             // as `nft -a list` / `iptables-save` prints it
    std::string comment;
    std::string verdict;          // drop, accept, reject, ...
};

// Addresses are oriented as the inbound SYN: src = client, dst = server, whatever the packet was.
struct Event {
    EventKind kind = EventKind::syn_rx;
    uint64_t ts_ns = 0;          // wall-clock ns: the realtime offset fixed at start + CLOCK_MONOTONIC (firewall/event_clock.h)
    uint32_t netns = 0;          // netns inode, 0 when the kernel object carried none
    uint32_t ifindex = 0;
    std::string ifname;
    uint16_t vlan_id = 0;        // syn_rx: the 802.1Q VLAN it came in on (ifindex: the lower device)
    // syn_rx: the same SYN arrived in another watched namespace just before and was sent on here
    // (a DNAT to a container, --all-netns): the flow's DNAT target, not a SYN of its own
    bool sent_on = false;
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    // drop of a DNATed SYN: where the DNAT sent it (src/dst above are the client's view, from
    // conntrack's original tuple)
    std::optional<IpAddr> nat_dst;
    uint16_t nat_dport = 0;
    bool outbound = false;       // the packet was going out (reply direction)
    uint8_t tcp_flags = 0;
    std::string reason;          // drop or reset reason name ("NO_SOCKET", "NETFILTER_DROP", ...)
    std::string location;        // symbol of the drop location ("nft_do_chain+0x2c4")
    uint8_t icmp_type = 0, icmp_code = 0;
    int old_state = 0, new_state = 0;  // for listen_change (TCP_* numbers)
    std::optional<FirewallRule> rule;  // for firewall_verdict
    uint32_t pid = 0;            // listen_change, process_exit
    std::string comm;
    int exit_code = 0;           // process_exit: wait status
    // syn_rx, tx with --pcap: the packet's first bytes from its IP header on, as the kernel held it.
    std::vector<uint8_t> packet;
};

struct Listener {
    IpAddr addr;
    uint16_t port = 0;
    bool v6only = false;
    uint32_t backlog = 0;        // sock_diag idiag_wqueue for LISTEN
    uint32_t accept_queue = 0;   // sock_diag idiag_rqueue for LISTEN
    uint64_t inode = 0;
    int pid = 0;                 // 0 when no process holds it
    std::string comm;
    std::string exe;
    std::string cmdline;         // argv joined with spaces (a proxy's -container-ip, a socket's owner)
    std::string unit;            // the systemd unit of its cgroup ("ssh.service", "docker.service"), if any;
                                 // a user service with its manager: "user@1000.service/app.service"
};

struct SshdProcess {
    int pid = 0;
    int ppid = 0;
    std::string exe;
    std::string cmdline;        // NUL-separated argv joined with spaces
    std::string config_path;    // -f argument or the default
    bool is_listener = false;   // the daemon itself, not a per-connection child
};

// sshd's effective configuration (`sshd -T`) or the error that stopped it (`sshd -t`).
struct SshdConfig {
    std::string config_path;
    bool ok = false;
    std::vector<uint16_t> ports;
    std::vector<std::string> listen_addresses;  // as printed: "0.0.0.0:22", "[::]:22"
    std::string address_family;                 // any, inet, inet6
    std::string error;                          // first error line when !ok
    // How it was checked when not as-is: "with a private /run/sshd (the real one is missing ...)".
    // sshd -t/-T refuse to read the config when the privilege separation directory is missing,
    // which is normal for a stopped ssh.service (RuntimeDirectory=sshd): that is not a config error.
    std::string checked_with;
};

// One journal entry of a unit (sd-journal, this boot), for evidence.
struct JournalLine {
    uint64_t ts_ns = 0;          // CLOCK_REALTIME
    std::string unit;            // _SYSTEMD_UNIT, or UNIT for systemd's own messages about it
    int priority = 6;            // syslog priority
    std::string message;
};

struct SystemdUnit {
    std::string name;            // ssh.service, ssh.socket, sshd.service
    std::string load_state;      // loaded, not-found, masked
    std::string active_state;    // active, inactive, failed
    std::string sub_state;
    std::string unit_file_state; // enabled, disabled, masked, static
    uint32_t main_pid = 0;
    std::string id;                      // the unit's own name; differs from `name` when name is an alias
    std::vector<std::string> aliases;    // its other names (sshd.service for ssh.service on Debian)
    std::string result;                  // success, exit-code, signal, core-dump, start-limit-hit, ...
    std::string fragment_path;           // /lib/systemd/system/ssh.service
    std::vector<std::string> drop_ins;   // drop-in files in effect (a generator's addresses.conf among them)
    std::vector<std::string> triggers;   // what it starts (ssh.socket -> ssh@.service / ssh.service)
    std::vector<std::string> triggered_by;
    // Socket units only:
    std::vector<std::string> listen;     // Stream listeners as systemd prints them: "[::]:22", "0.0.0.0:2222"
    bool accept = false;                 // Accept=yes: one service instance per connection (ssh@.service)
    uint32_t n_accepted = 0;             // connections accepted since the socket started
    uint32_t n_connections = 0;          // ... of which still open
    std::vector<JournalLine> journal;    // its last journal lines this boot, oldest first
    // Its queued job (systemctl list-jobs), all empty when it has none: a start job waiting on a
    // slow unit it is ordered after (cloud-init.service on a cloud VM) means nothing listens yet
    // although systemd will start it by itself.
    std::string job_type;                // start, stop, restart, ...
    std::string job_state;               // waiting (on other jobs) or running
    std::vector<std::string> waiting_for;  // the jobs it waits on: "cloud-init.service (start, running)"
};

// A program that manages firewall rules, found running (pid) or enabled (ufw has no daemon).
struct FirewallManager {
    std::string name;      // ufw, firewalld, fail2ban, sshguard, crowdsec, tailscale, docker, podman,
                           // kube-proxy, calico, cilium
    int pid = 0;           // its daemon, 0 when none runs (ufw)
    std::string detail;    // "enabled in /etc/ufw/ufw.conf", "default zone public", ...
};

// An address a ban manager blocks, as the manager itself reports it.
struct Ban {
    std::string manager;   // fail2ban
    std::string jail;      // sshd
    IpAddr addr;
    uint64_t since_s = 0;  // epoch seconds, 0 when unknown
    uint64_t until_s = 0;  // epoch seconds, 0 when unknown or permanent
};

// A BPF program attached to an interface of the watched namespace (tc or XDP): who holds it
// decides whether removing it is a fix or an outage (a CNI's datapath).
struct NetProgram {
    std::string ifname;
    std::string attach;     // "xdp", "xdpgeneric", "tc ingress", "tc egress"
    uint32_t prog_id = 0;
    std::string prog_name;  // cil_from_netdev, calico_..., "" when the kernel has none
    int holder_pid = 0;     // a process holding it open (its loader), 0 when none (pinned or orphaned)
    std::string holder_comm;
};

// A listener in another network namespace (a container's), for `other-netns`.
struct ForeignListener {
    uint32_t netns = 0;
    std::string netns_name;   // under /run/netns, if named there
    std::string container;    // "docker 3f2a1b9c0d4e" from the owner's cgroup, if a runtime made it
    Listener listener;
};

// A namespace a published port's DNAT leads to, looked into after the fact: what it is called,
// a process in it, the container that process belongs to, and everything listening there.
struct NetnsView {
    uint32_t netns = 0;
    std::string netns_name;   // under /run/netns, if named there
    int pid = 0;              // a process running in it, 0 when none
    std::string container;    // "docker 3f2a1b9c0d4e" from that process's cgroup, if a runtime made it
    std::vector<Listener> listeners;  // TCP listeners on any port
};

// The other-netns search enters a bounded number of namespaces; when it could not enter them all,
// probe_errors holds "N of M" followed by this, and a refusal's evidence repeats that line.
inline constexpr std::string_view other_netns_not_searched = " other network namespaces not searched";

// A network interface of the watched netns, as rtnetlink lists it: enough to tell which
// interface IP saw a SYN on when the kernel saw it on a bridge port or under a VLAN.
struct Interface {
    uint32_t ifindex = 0;
    std::string name;
    std::string kind;         // IFLA_INFO_KIND: "bridge", "vlan", "veth", ... ("" for a plain NIC)
    uint32_t master = 0;      // the bridge (or bond) it is a port of, 0 for none
    uint32_t link = 0;        // vlan: the lower device
    uint16_t vlan_id = 0;     // vlan: its id
};

struct HostSnapshot {
    uint64_t taken_ns = 0;
    uint32_t netns = 0;                  // the watched netns inode
    std::string netns_name;              // name under /run/netns, or "" for the caller's
    std::vector<Listener> listeners;     // TCP LISTEN sockets in the watched netns (every port)
    std::vector<IpAddr> addresses;       // addresses of the watched netns' interfaces
    std::vector<Interface> interfaces;   // the watched netns' links (bridges, VLANs, their ports)
    std::vector<SshdProcess> sshd_processes;
    std::vector<SshdConfig> sshd_configs;   // one per config path in use (or the default)
    bool systemd_running = false;
    std::vector<SystemdUnit> units;          // the ssh units, each once (aliases folded into one)
    std::vector<SystemdUnit> socket_units;   // every socket unit with a Stream listener (pid 1's sockets)
    // A generator derives ssh.socket's ListenStream from sshd_config at daemon-reload (Ubuntu's
    // sshd-socket-generator): path of the generator, "" when none (Debian: the socket keeps its own).
    std::string sshd_socket_generator;
    std::string os_id, os_version_id;        // /etc/os-release of the view the snapshot had
    // Whose files and units the snapshot read: "" for synwhy's own mount namespace, else e.g.
    // "the mount namespace of pid 4242" (a container's own /etc and systemd).
    std::string mount_view;
    std::vector<FirewallManager> firewall_managers;
    std::vector<NetnsView> dnat_targets;     // the namespaces DNATed flows were refused in (report)
    std::vector<Ban> bans;
    std::vector<NetProgram> net_programs;
    bool iptables_legacy_present = false;   // ip_tables / ip6_tables have rules in this netns
    // TcpExt counters of this netns (cumulative), and their growth over the capture (-1: unknown).
    uint64_t listen_overflows = 0, listen_drops = 0;
    int64_t listen_overflows_grew = -1, listen_drops_grew = -1;
    // nf_conntrack entries in use and the limit (0/0 when conntrack is not loaded here).
    uint64_t conntrack_count = 0, conntrack_max = 0;
    std::vector<std::string> probe_errors;  // what a probe could not find out, one line each
    // Listeners on the watched ports in the other namespaces; filled only when a refusal needs it.
    std::vector<ForeignListener> other_netns_listeners;
};

// SYNs that reached this host on a port nobody watches (counted in the kernel).
struct OtherPortSyn {
    uint32_t netns = 0;
    IpAddr src;
    uint16_t dport = 0;
    uint64_t count = 0;
    IpAddr dst;           // unset (all zero) when the kernel did not record it
};

// What the name the client uses resolves to (`--hostname`).
struct HostnameCheck {
    std::string name;
    std::vector<IpAddr> addresses;  // A and AAAA
    std::string error;              // resolution failure, one line
};

// An exact total counted in the kernel for one (netns, port), whatever the ring buffer took.
struct KernelTotal {
    uint32_t netns = 0;
    uint16_t port = 0;
    std::string what;   // "SYN arrived", "SYN dropped: NETFILTER_DROP", "SYN-ACK left", ...
    uint64_t count = 0;
};

// The result of the diagnosis.
struct Flow {
    Family family = Family::ipv4;
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    uint32_t netns = 0;
    std::string ifname;     // the device the SYN arrived on (a bridge port, a VLAN's lower device)
    std::string bridge;     // the bridge whose port that is, "" for none
    uint16_t vlan_id = 0;   // the VLAN it was tagged with, 0 for none
    std::string ip_ifname;  // the interface IP received it on (the VLAN's, the bridge's, or ifname)
    // A DNAT sent the SYN on (a published port): to where, and the namespace whose kernel was
    // seen handling it there (0: not seen past this host's netfilter)
    std::optional<IpAddr> nat_dst;
    uint16_t nat_dport = 0;
    uint32_t nat_netns = 0;
    uint64_t first_ns = 0, last_ns = 0;
    uint32_t syns = 0;
    std::string verdict;   // a cause code
    std::string detail;    // one line: what happened to this flow
    std::optional<FirewallRule> rule;  // the rule that dropped or rejected it, when known
};

struct Cause {
    std::string code;
    uint32_t flows = 0;
    std::string summary;
    std::vector<std::string> evidence;
    std::vector<std::string> fix;
    std::optional<FirewallRule> rule;  // firewall causes: the rule (or policy) responsible
};

struct Diagnosis {
    std::vector<Flow> flows;
    std::vector<Cause> causes;   // most important first
    uint64_t syns_seen = 0;       // SYNs addressed to the watched namespace(s)
    uint64_t syns_forwarded = 0;  // SYNs that passed through to another host (not diagnosed)
};

}  // namespace synwhy
