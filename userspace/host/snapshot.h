// Host state probes: what listens, which sshd runs with which config, which units systemd has.
// Every probe reads the network namespace of the calling thread; none of them changes anything.
#pragma once

#include <chrono>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diagnosis/model.h"

struct nlmsghdr;

namespace synwhy::host {

struct SnapshotOptions {
    bool query_sshd_config = true;                   // run `sshd -T` / `sshd -t`
    std::chrono::milliseconds exec_timeout{3000};    // per external command
    // The mount namespace to read systemd, its journal and os-release from, as a path prefix to
    // its root ("/proc/4242/root" for a container's); "" for synwhy's own.
    std::string root;
};

// The whole snapshot of the calling thread's netns. Never throws: what a probe cannot learn is
// written to HostSnapshot::probe_errors.
HostSnapshot take_snapshot(const SnapshotOptions& options);

// The pieces, each usable on its own.
std::vector<Listener> list_tcp_listeners(std::string& error);          // netlink sock_diag, both families
// One SOCK_DIAG_BY_FAMILY reply message (its nlmsg_len already checked, as mnl_cb_run does): the
// TCP listener it describes, or false for any other message. Pure, fuzzed.
bool parse_inet_diag_listener(const struct nlmsghdr* nlh, Listener& out);
void attach_socket_owners(std::vector<Listener>& listeners);           // /proc/*/fd socket:[inode]
std::vector<SshdProcess> find_sshd_processes();                        // /proc/*/comm == sshd
// `root`: the mount view, as SnapshotOptions::root; another one's sshd is never run (not checked).
SshdConfig query_sshd_config(const std::string& config_path, std::chrono::milliseconds timeout,
                             const std::string& root = "");
std::vector<IpAddr> list_local_addresses(std::string& error);
bool iptables_legacy_tables_present();
// TcpExt ListenOverflows and ListenDrops of the calling thread's netns (/proc/thread-self/net/netstat).
bool read_listen_counters(uint64_t& overflows, uint64_t& drops);
bool parse_tcpext_listen_counters(const std::string& netstat_text, uint64_t& overflows, uint64_t& drops);

// Every network namespace of this host, by inode: those named under /run/netns (path and name)
// and, with_processes, those of running processes (a path through one of them and its pid).
struct NetnsEntry {
    std::string path;
    std::string name;  // under /run/netns; "" when known only through a process
    int pid = 0;       // the process it was found through, when unnamed
};
std::map<uint32_t, NetnsEntry> list_network_namespaces(bool with_processes);

// Listeners on `ports` in every network namespace but `own_netns` (named ones under /run/netns and
// those of processes, deduplicated by inode; at most max_namespaces are entered).
std::vector<ForeignListener> find_listeners_in_other_netns(const std::vector<uint16_t>& ports, uint32_t own_netns,
                                                           size_t max_namespaces, std::string& error);
// The network namespace of that inode (named under /run/netns or a process's), entered to list
// its TCP listeners; nullopt when no name or process leads to it.
std::optional<NetnsView> look_into_netns(uint32_t netns);
// "docker 3f2a1b9c0d4e", "podman …", "containerd …" from /proc/PID/cgroup text; "" when none.
std::string container_from_cgroup(const std::string& cgroup_text);

// --- systemd, its journal and the OS of a mount view (systemd.cpp, journal.cpp, os_release.cpp).
// Every `root` is "" for synwhy's own mount namespace or a prefix such as "/proc/4242/root" for
// another's: its bus, its journal and its files, never the host's by mistake.
struct SystemdUnits {
    bool running = false;                    // systemd is PID 1 of that view
    std::vector<SystemdUnit> ssh_units;      // ssh/sshd .service/.socket that exist, aliases folded
    std::vector<SystemdUnit> socket_units;   // every loaded socket unit with an IP Stream listener
};
// Over D-Bus (sd-bus): the system bus at <root>/run/dbus/system_bus_socket, else systemd's own
// <root>/run/systemd/private. Without systemd: nothing, no error, no bus connection.
SystemdUnits query_systemd_units(const std::string& root, std::string& error);
// Fills each unit's journal with its last `lines_per_unit` entries of the view's current boot
// (sd-journal): its processes', systemd's about it, and for an Accept=yes socket its instances';
// plus, when those are all systemd's, its processes' newest two within 10 * lines_per_unit.
// Returns "" or what went wrong (a journal that cannot be opened is not a failure of the rest).
std::string read_unit_journals(std::vector<SystemdUnit>& units, const std::string& root, size_t lines_per_unit);
// systemd's lines that mark a start or a stop ("Started …", "Listening on …", "Stopped …", "Starting …").
bool is_journal_boundary(const std::string& message);
// read_unit_journals' choice, pure: `previous` gives the next older entry (false at the start)
// and whether it is systemd's about the unit. When looking further back for the unit's own
// lines, systemd's boundary lines are kept and a successful start ends the search: an error
// from before it is not the current one.
std::vector<JournalLine> pick_unit_journal_lines(const std::function<bool(JournalLine&, bool&)>& previous,
                                                 size_t max_lines, size_t max_scan);
// The path (inside the view) of a generator that derives ssh.socket from sshd_config, "" if none.
std::string find_sshd_socket_generator(const std::string& root);
struct OsRelease {
    std::string id;          // debian, ubuntu, fedora, raspbian, ...
    std::string version_id;  // 12, 24.04, ...
};
OsRelease read_os_release(const std::string& root);  // /etc/os-release, else /usr/lib/os-release
// A file of the view: `path` resolved with `root` as "/" (openat2 RESOLVE_IN_ROOT, so a container's
// absolute symlinks stay inside it). root "" reads `path` as it is.
std::optional<std::string> read_file_in_root(const std::string& root, const std::string& path);
// Pure parts, unit-tested.
OsRelease parse_os_release(const std::string& text);
// Socket.Listen's (type, address) pairs: the Stream ones' addresses, as systemd prints them.
std::vector<std::string> stream_listen_addresses(const std::vector<std::pair<std::string, std::string>>& listen);
bool is_ip_listen_address(const std::string& address);  // "[::]:22", "0.0.0.0:22", "22"; not a path
// A unit's other names (Names but its Id), the queried name among them if it was an alias.
std::vector<std::string> unit_aliases(const std::string& queried, const std::string& id,
                                      const std::vector<std::string>& names);
// The slice of an Accept=yes socket's per-connection instances: ssh.socket -> system-ssh.slice.
std::string accept_instances_slice(const std::string& socket_id);
// A job another job waits on, from Job.GetBefore's (id, unit, type, state, ...) entries:
// "cloud-init.service (start, running)"; "job 136 (...)" when systemd names no unit.
std::string waited_job_entry(uint32_t job_id, const std::string& unit, const std::string& job_type,
                             const std::string& job_state);

// Pure parsers, unit-tested on fixtures.
SshdConfig parse_sshd_T(const std::string& stdout_text);               // `sshd -T` output
std::string first_sshd_error_line(const std::string& stderr_text);     // `sshd -t` stderr
std::string sshd_config_path_from_cmdline(const std::vector<std::string>& argv);
// Whether an sshd argv (/proc/PID/cmdline, possibly a rewritten title such as
// "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups") is a listening daemon rather than a
// connection child ("sshd: alice@pts/0"), an inetd-style `sshd -i` or a `sshd -t/-T` test.
bool sshd_cmdline_is_daemon(const std::vector<std::string>& argv);

// --- sshd's privilege separation directory, listener owners, firewall managers, bans and tc/XDP
// programs (sshd.cpp, sockets.cpp, managers.cpp, net_programs.cpp). Pure parts unit-tested.
// The directory sshd -t/-T said is missing ("Missing privilege separation directory: /run/sshd"),
// "" for any other error.
std::string missing_privsep_dir(const std::string& sshd_error);
// Why a private `dir` (a tmpfs on its parent) cannot be made without hiding one of the paths the
// run needs; "" when it can.
std::string private_dir_refusal(const std::string& dir, const std::vector<std::string>& needed_paths);
// The answer after sshd was run again with a private `dir`: `retry` is that run's answer,
// `retry_error` why it could not be set up. Only a config error sshd found there is an error;
// anything else is ok=false with no error and checked_with saying what could not be checked.
SshdConfig answer_with_private_dir(const std::string& config_path, const std::string& dir, const SshdConfig& retry,
                                   const std::string& retry_error);
// /proc/PID/cmdline as one line: NULs as spaces, at most max_bytes.
std::string cmdline_text(const std::string& raw, size_t max_bytes);
// The systemd unit of /proc/PID/cgroup text ("ssh.service", a user's "app.service"); "" if none.
std::string unit_from_cgroup(const std::string& cgroup_text);

// Every process's pid, comm and netns inode, read once for a burst of snapshots (--all-netns takes
// thousands in a row, each scanning for sshd and the managers): at most `max_age` old, so a process
// that started since may be missing (one that exited is found out by reading it).
struct ProcessEntry {
    int pid = 0;
    std::string comm;
    uint64_t netns = 0;  // 0 when unreadable
};
std::shared_ptr<const std::vector<ProcessEntry>> process_table(
    std::chrono::milliseconds max_age = std::chrono::milliseconds(100));

// Firewall managers as /proc shows them: the daemon's comm (at most 15 characters).
struct KnownManager {
    std::string_view name;    // FirewallManager::name
    std::string_view comm;
    std::string_view detail;  // FirewallManager::detail when this comm is the one found
};
const std::vector<KnownManager>& known_firewall_managers();
// Managers whose daemon runs in the network namespace `netns` (they manage the one they run in),
// and ufw when <root>/etc/ufw/ufw.conf enables it.
std::vector<FirewallManager> find_firewall_managers(uint32_t netns, const std::string& root);
bool ufw_enabled(const std::string& ufw_conf_text);  // ENABLED=yes

// fail2ban's bans through fail2ban-client (/usr/bin, else /usr/local/bin), 5 s in all, at most 16
// jails' ban times. Adds a line to `error` (and returns what it got) when the client fails; with
// `root` set (a container) the client is never run and `error` says so.
std::vector<Ban> query_fail2ban_bans(const std::string& root, std::chrono::milliseconds timeout, std::string& error);
// `fail2ban-client banned`: [{'sshd': ['203.0.113.1']}, {'recidive': []}] -> (jail, addresses);
// nullopt when the text is not such a list.
std::optional<std::vector<std::pair<std::string, std::vector<std::string>>>> parse_fail2ban_banned(
    const std::string& text);
// `fail2ban-client get JAIL banip --with-time`, one ban a line:
// "203.0.113.1 \t2026-12-02 03:00:00 + 600 = 2026-12-02 03:10:00". Times are the server's local
// time: `to_epoch` converts them (mktime by default, timegm in tests). A permanent ban has until_s 0.
using TimeToEpoch = time_t (*)(struct tm*);
std::vector<Ban> parse_fail2ban_banip_with_time(const std::string& jail, const std::string& text,
                                                TimeToEpoch to_epoch = nullptr);

// tc (clsact ingress/egress, tcx) and XDP programs on the calling thread's netns' interfaces,
// with their names and a process that holds each open. Failures add to `error`.
std::vector<NetProgram> list_net_programs(std::string& error);
// One RTM_NEWLINK message: the interface and its XDP programs by mode ("xdp", "xdpgeneric", "xdpoffload").
struct LinkXdp {
    uint32_t ifindex = 0;
    std::string ifname;
    std::vector<std::pair<std::string, uint32_t>> programs;
};
bool parse_link_xdp(const struct nlmsghdr* nlh, LinkXdp& out);
// The calling thread's netns' links, with their bridge, VLAN id and lower device.
std::vector<Interface> list_interfaces(std::string& error);
// One RTM_NEWLINK message as an Interface; false for anything else.
bool parse_link_interface(const struct nlmsghdr* nlh, Interface& out);
// One RTM_NEWTFILTER message: a cls_bpf filter's program id and tc's name for it; false otherwise.
bool parse_tc_bpf_filter(const struct nlmsghdr* nlh, uint32_t& prog_id, std::string& name);
// The program id a /proc/PID/fdinfo/FD text names ("prog_id:\t42"), 0 when none.
uint32_t prog_id_from_fdinfo(const std::string& fdinfo_text);

}  // namespace synwhy::host
