// take_snapshot: every probe of the calling thread's netns into one HostSnapshot. Each probe's
// failure becomes one line of probe_errors; nothing throws out of here.
#include "host/snapshot.h"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <sstream>
#include <set>

#include "host/procfs.h"

namespace synwhy::host {

namespace {

uint64_t realtime_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

// Runs one probe; an exception (std::bad_alloc and the like) becomes an error line.
template <typename F>
void guarded(HostSnapshot& snap, const char* what, F&& probe) {
    try {
        probe();
    } catch (const std::exception& e) {
        snap.probe_errors.push_back(std::string(what) + ": " + e.what());
    } catch (...) {
        snap.probe_errors.push_back(std::string(what) + ": unknown error");
    }
}

}  // namespace

HostSnapshot take_snapshot(const SnapshotOptions& options) {
    HostSnapshot snap;
    guarded(snap, "snapshot", [&] {
        snap.taken_ns = realtime_ns();
        // The thread's netns, which differs from the process's after a per-thread setns.
        snap.netns = uint32_t(procfs::ns_inode("/proc/thread-self/ns/net"));
        if (!snap.netns) snap.probe_errors.push_back("cannot stat /proc/thread-self/ns/net");
    });

    guarded(snap, "listeners", [&] {
        std::string error;
        snap.listeners = list_tcp_listeners(error);
        if (!error.empty()) snap.probe_errors.push_back("listeners: " + error);
        attach_socket_owners(snap.listeners);
    });

    guarded(snap, "addresses", [&] {
        std::string error;
        snap.addresses = list_local_addresses(error);
        if (!error.empty()) snap.probe_errors.push_back("addresses: " + error);
        snap.interfaces = list_interfaces(error);
        if (!error.empty()) snap.probe_errors.push_back("interfaces: " + error);
    });

    guarded(snap, "sshd processes", [&] { snap.sshd_processes = find_sshd_processes(); });

    if (options.query_sshd_config) {
        guarded(snap, "sshd config", [&] {
            std::vector<std::string> paths;
            std::set<std::string> seen;
            for (const auto& p : snap.sshd_processes)
                if (p.is_listener && seen.insert(p.config_path).second) paths.push_back(p.config_path);
            struct stat st {};
            if (paths.empty() && stat((options.root + "/etc/ssh/sshd_config").c_str(), &st) == 0)
                paths.push_back("/etc/ssh/sshd_config");
            for (const auto& path : paths) {
                snap.sshd_configs.push_back(query_sshd_config(path, options.exec_timeout, options.root));
                // A config sshd rejects is a finding (SshdConfig::error); sshd missing, hanging or
                // not starting means the probe itself failed, and so does a config not checked.
                const auto& c = snap.sshd_configs.back();
                if (!c.ok && (c.error == "sshd is not installed" || c.error.starts_with("sshd -T")))
                    snap.probe_errors.push_back("sshd config " + path + ": " + c.error);
                if (!c.ok && c.error.empty())
                    snap.probe_errors.push_back("sshd config " + path + ": " + c.checked_with);
                if (!c.ok && c.error == "sshd is not installed") break;  // the same for every path
            }
        });
    }

    guarded(snap, "firewall managers", [&] {
        snap.firewall_managers = find_firewall_managers(snap.netns, options.root);
        // fail2ban-client is asked only where fail2ban runs: no command per namespace otherwise.
        bool fail2ban = std::any_of(snap.firewall_managers.begin(), snap.firewall_managers.end(),
                                    [](const FirewallManager& m) { return m.name == "fail2ban"; });
        if (!fail2ban) return;
        std::string error;
        snap.bans = query_fail2ban_bans(options.root, options.exec_timeout, error);
        if (!error.empty()) snap.probe_errors.push_back(error);
    });
    guarded(snap, "tc/XDP programs", [&] {
        std::string error;
        snap.net_programs = list_net_programs(error);
        if (!error.empty()) snap.probe_errors.push_back("tc/XDP programs: " + error);
    });

    guarded(snap, "systemd", [&] {
        std::string error;
        auto systemd = query_systemd_units(options.root, error);
        snap.systemd_running = systemd.running;
        snap.units = std::move(systemd.ssh_units);
        snap.socket_units = std::move(systemd.socket_units);
        if (!error.empty()) snap.probe_errors.push_back("systemd: " + error);
        if (!snap.systemd_running) return;
        snap.sshd_socket_generator = find_sshd_socket_generator(options.root);
        std::string journal_error = read_unit_journals(snap.units, options.root, 10);
        if (!journal_error.empty()) snap.probe_errors.push_back("journal: " + journal_error);
    });
    guarded(snap, "os-release", [&] {
        auto os = read_os_release(options.root);
        snap.os_id = os.id;
        snap.os_version_id = os.version_id;
    });

    guarded(snap, "iptables-legacy", [&] { snap.iptables_legacy_present = iptables_legacy_tables_present(); });
    guarded(snap, "conntrack", [&] {
        auto read_u64 = [](const char* path, uint64_t& v) {
            std::ifstream f(path);
            return static_cast<bool>(f >> v);
        };
        // Per netns; absent (and 0/0) when nf_conntrack is not loaded.
        if (!read_u64("/proc/sys/net/netfilter/nf_conntrack_count", snap.conntrack_count) ||
            !read_u64("/proc/sys/net/netfilter/nf_conntrack_max", snap.conntrack_max))
            snap.conntrack_count = snap.conntrack_max = 0;
    });
    guarded(snap, "TcpExt counters", [&] {
        if (!read_listen_counters(snap.listen_overflows, snap.listen_drops))
            snap.probe_errors.push_back("cannot read TcpExt ListenOverflows/ListenDrops");
    });
    return snap;
}

bool parse_tcpext_listen_counters(const std::string& text, uint64_t& overflows, uint64_t& drops) {
    // Two lines per group: "TcpExt: Name1 Name2 ..." then "TcpExt: 1 2 ...".
    std::istringstream in(text);
    std::string names, values;
    while (std::getline(in, names)) {
        if (!std::getline(in, values)) break;
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string name, value;
        bool found_o = false, found_d = false;
        while (n >> name && v >> value) {
            if (name == "ListenOverflows") overflows = std::strtoull(value.c_str(), nullptr, 10), found_o = true;
            if (name == "ListenDrops") drops = std::strtoull(value.c_str(), nullptr, 10), found_d = true;
        }
        return found_o && found_d;
    }
    return false;
}

bool read_listen_counters(uint64_t& overflows, uint64_t& drops) {
    std::ifstream f("/proc/thread-self/net/netstat");
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_tcpext_listen_counters(ss.str(), overflows, drops);
}

}  // namespace synwhy::host
