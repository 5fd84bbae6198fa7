// Host state probes: what listens, which sshd runs with which config, which units systemd has.
// Every probe reads the network namespace of the calling thread; none of them changes anything.
#pragma once

#include <chrono>
#include <map>
#include <cstdint>
#include <string>
#include <vector>

#include "diagnosis/model.h"

struct nlmsghdr;

namespace synwhy::host {

struct SnapshotOptions {
    bool query_sshd_config = true;                   // run `sshd -T` / `sshd -t`
    std::chrono::milliseconds exec_timeout{3000};    // per external command
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
SshdConfig query_sshd_config(const std::string& config_path, std::chrono::milliseconds timeout);
std::vector<SystemdUnit> query_ssh_units(bool& systemd_running, std::string& error);
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
// "docker 3f2a1b9c0d4e", "podman …", "containerd …" from /proc/PID/cgroup text; "" when none.
std::string container_from_cgroup(const std::string& cgroup_text);

// Pure parsers, unit-tested on fixtures.
SshdConfig parse_sshd_T(const std::string& stdout_text);               // `sshd -T` output
std::string first_sshd_error_line(const std::string& stderr_text);     // `sshd -t` stderr
std::string sshd_config_path_from_cmdline(const std::vector<std::string>& argv);
// Whether an sshd argv (/proc/PID/cmdline, possibly a rewritten title such as
// "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups") is a listening daemon rather than a
// connection child ("sshd: alice@pts/0"), an inetd-style `sshd -i` or a `sshd -t/-T` test.
bool sshd_cmdline_is_daemon(const std::vector<std::string>& argv);

}  // namespace synwhy::host
