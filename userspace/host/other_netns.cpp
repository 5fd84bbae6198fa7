// Listeners in the other network namespaces: a service that runs in a container whose port is
// not published answers nothing on the host, and the host's own probes would never see it.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "host/procfs.h"
#include "host/snapshot.h"

namespace synwhy::host {

namespace {

uint32_t inode_of(const std::string& path) { return static_cast<uint32_t>(procfs::ns_inode(path)); }

bool is_hex_id(const std::string& s) {
    return s.size() >= 12 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

// The network namespaces that processes run in, by inode, each with the lowest pid found in it.
std::map<uint32_t, int> namespaces_of_processes() {
    std::map<uint32_t, int> found;
    for (int pid : procfs::list_pids())
        if (uint32_t ino = inode_of(fmt::format("/proc/{}/ns/net", pid))) found.emplace(ino, pid);
    return found;
}

}  // namespace

std::string container_from_cgroup(const std::string& text) {
    // cgroup v2 "0::/system.slice/docker-<id>.scope", v1 ".../docker/<id>", podman "libpod-<id>",
    // containerd (Kubernetes) "cri-containerd-<id>.scope".
    static const std::vector<std::pair<std::string, std::string>> patterns = {
        {"docker-", "docker"}, {"/docker/", "docker"}, {"libpod-", "podman"}, {"cri-containerd-", "containerd"},
        {"crio-", "cri-o"}};
    for (const auto& [marker, runtime] : patterns) {
        auto pos = text.find(marker);
        if (pos == std::string::npos) continue;
        std::string id = text.substr(pos + marker.size());
        id = id.substr(0, id.find_first_of(".\n/"));
        if (is_hex_id(id)) return fmt::format("{} {}", runtime, id.substr(0, 12));
    }
    return "";
}

std::map<uint32_t, NetnsEntry> list_network_namespaces(bool with_processes) {
    std::map<uint32_t, NetnsEntry> namespaces;
    if (DIR* d = opendir("/run/netns")) {
        while (struct dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::string path = std::string("/run/netns/") + e->d_name;
            if (uint32_t ino = inode_of(path)) namespaces.emplace(ino, NetnsEntry{path, e->d_name, 0});
        }
        closedir(d);
    }
    if (!with_processes) return namespaces;
    for (const auto& [ino, pid] : namespaces_of_processes())
        namespaces.emplace(ino, NetnsEntry{fmt::format("/proc/{}/ns/net", pid), "", pid});
    return namespaces;
}

namespace {

// The TCP listeners of the namespace at path, read by a short-lived thread that enters it (setns
// is per thread for the network namespace).
std::vector<Listener> listeners_in(const std::string& path) {
    std::vector<Listener> listeners;
    std::thread t([&] {
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        if (setns(fd, CLONE_NEWNET) == 0) {
            std::string err;
            listeners = list_tcp_listeners(err);
        }
        close(fd);
    });
    t.join();
    return listeners;
}

}  // namespace

std::optional<NetnsView> look_into_netns(uint32_t netns) {
    // Entered by its name when it has one, else through a process of it; /proc is scanned once
    // for that process, which also names its container.
    const auto named = list_network_namespaces(false);
    const auto with_processes = namespaces_of_processes();
    auto by_name = named.find(netns);
    auto by_process = with_processes.find(netns);
    if (by_name == named.end() && by_process == with_processes.end()) return std::nullopt;
    NetnsView view;
    view.netns = netns;
    view.pid = by_process != with_processes.end() ? by_process->second : 0;
    view.netns_name = by_name != named.end() ? by_name->second.name : "";
    view.listeners = listeners_in(by_name != named.end() ? by_name->second.path : fmt::format("/proc/{}/ns/net", view.pid));
    attach_socket_owners(view.listeners);
    if (view.pid) view.container = container_from_cgroup(procfs::read_file(fmt::format("/proc/{}/cgroup", view.pid)).value_or(""));
    return view;
}

std::vector<ForeignListener> find_listeners_in_other_netns(const std::vector<uint16_t>& ports, uint32_t own_netns,
                                                           size_t max_namespaces, std::string& error) {
    // The named namespaces and those of processes, without the caller's own.
    auto namespaces = list_network_namespaces(false);
    const auto with_processes = namespaces_of_processes();
    for (const auto& [ino, pid] : with_processes)
        namespaces.emplace(ino, NetnsEntry{fmt::format("/proc/{}/ns/net", pid), "", pid});
    namespaces.erase(own_netns);
    // Entered in this order while the bound allows: first those where a process runs (a listener
    // is held by a process, a container's sshd say), then the named ones nothing runs in.
    std::vector<std::pair<uint32_t, const NetnsEntry*>> order;
    for (const auto& [ino, where] : namespaces)
        if (with_processes.count(ino)) order.emplace_back(ino, &where);
    for (const auto& [ino, where] : namespaces)
        if (!with_processes.count(ino)) order.emplace_back(ino, &where);
    // Not silent: the report repeats this line as evidence of a refusal (a listener may be in a
    // namespace that was not searched).
    if (order.size() > max_namespaces)
        error = fmt::format("{} of {}{} (at most {} are entered, those where processes run first)",
                            order.size() - max_namespaces, order.size(), other_netns_not_searched, max_namespaces);

    std::vector<ForeignListener> found;
    size_t visited = 0;
    for (const auto& [ino, entry] : order) {
        if (visited++ >= max_namespaces) break;
        const NetnsEntry& where = *entry;
        std::vector<Listener> listeners = listeners_in(where.path);
        listeners.erase(std::remove_if(listeners.begin(), listeners.end(),
                                       [&](const Listener& l) {
                                           return std::find(ports.begin(), ports.end(), l.port) == ports.end();
                                       }),
                        listeners.end());
        if (listeners.empty()) continue;
        attach_socket_owners(listeners);
        for (auto& l : listeners) {
            ForeignListener f{ino, where.name, "", l};
            if (l.pid) f.container = container_from_cgroup(procfs::read_file(fmt::format("/proc/{}/cgroup", l.pid)).value_or(""));
            found.push_back(std::move(f));
        }
    }
    return found;
}

}  // namespace synwhy::host
