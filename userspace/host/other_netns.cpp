// Listeners in the other network namespaces: a service that runs in a container whose port is
// not published answers nothing on the host, and the host's own probes would never see it.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "host/snapshot.h"

namespace synwhy::host {

namespace {

uint32_t inode_of(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool is_hex_id(const std::string& s) {
    return s.size() >= 12 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
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

std::vector<ForeignListener> find_listeners_in_other_netns(const std::vector<uint16_t>& ports, uint32_t own_netns,
                                                           size_t max_namespaces, std::string& error) {
    // netns inode -> (a path that opens it, its name under /run/netns)
    std::map<uint32_t, std::pair<std::string, std::string>> namespaces;
    if (DIR* d = opendir("/run/netns")) {
        while (struct dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::string path = std::string("/run/netns/") + e->d_name;
            if (uint32_t ino = inode_of(path)) namespaces.emplace(ino, std::make_pair(path, std::string(e->d_name)));
        }
        closedir(d);
    }
    if (DIR* d = opendir("/proc")) {
        while (struct dirent* e = readdir(d)) {
            if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
            std::string path = std::string("/proc/") + e->d_name + "/ns/net";
            if (uint32_t ino = inode_of(path)) namespaces.emplace(ino, std::make_pair(path, std::string()));
        }
        closedir(d);
    }
    namespaces.erase(own_netns);
    if (namespaces.size() > max_namespaces)
        error = fmt::format("{} network namespaces; only the first {} were searched", namespaces.size(), max_namespaces);

    std::vector<ForeignListener> found;
    size_t visited = 0;
    for (const auto& [ino, where] : namespaces) {
        if (visited++ >= max_namespaces) break;
        // setns is per thread for the network namespace: a short-lived thread enters it.
        std::vector<Listener> listeners;
        std::thread t([&, path = where.first] {
            int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return;
            if (setns(fd, CLONE_NEWNET) == 0) {
                std::string err;
                listeners = list_tcp_listeners(err);
            }
            close(fd);
        });
        t.join();
        listeners.erase(std::remove_if(listeners.begin(), listeners.end(),
                                       [&](const Listener& l) {
                                           return std::find(ports.begin(), ports.end(), l.port) == ports.end();
                                       }),
                        listeners.end());
        if (listeners.empty()) continue;
        attach_socket_owners(listeners);
        for (auto& l : listeners) {
            ForeignListener f{ino, where.second, "", l};
            if (l.pid) f.container = container_from_cgroup(read_file(fmt::format("/proc/{}/cgroup", l.pid)));
            found.push_back(std::move(f));
        }
    }
    return found;
}

}  // namespace synwhy::host
