#include "diagnosis/owners/listener_owners.h"

#include <array>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "diagnosis/diagnose.h"
#include "diagnosis/owners/ssh_units.h"

namespace synwhy {

namespace {

struct KnownProxy {
    std::string_view comm;  // as /proc/PID/comm has it (15 characters at most)
    std::string_view description;
};

// Programs that listen on a host port only to carry its connections into a container.
constexpr std::array<KnownProxy, 6> known_proxies{{
    {"docker-proxy", "Docker's userland proxy to a published container port"},
    {"rootlessport", "rootless Podman's forwarder of a published port"},
    {"pasta", "pasta, the user-mode network of a rootless container"},
    {"pasta.avx2", "pasta, the user-mode network of a rootless container"},
    {"slirp4netns", "slirp4netns, the user-mode network of a rootless container"},
    // Rootful Podman: conmon holds the published port open; the packets themselves are DNATed.
    {"conmon", "Podman's container monitor, holding a published port"},
}};

bool is_sshd(const Listener& l) { return l.comm == "sshd" || l.exe.ends_with("/sshd"); }

// docker-proxy's "-container-ip 172.17.0.2 -container-port 22" -> "172.17.0.2:22".
std::string proxied_container(const std::string& cmdline) {
    std::istringstream words(cmdline);
    std::string word, ip, port;
    while (words >> word) {
        if (word == "-container-ip" || word == "--container-ip") words >> ip;
        else if (word == "-container-port" || word == "--container-port") words >> port;
    }
    if (ip.empty()) return "";
    std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    return port.empty() ? host : host + ":" + port;
}

// Lower is the better answer to "who serves this port".
int rank(const ListenerOwner& o) {
    using Kind = ListenerOwner::Kind;
    switch (o.kind) {
    case Kind::sshd: return 0;
    case Kind::systemd_socket: return o.serves_sshd ? 1 : 3;
    case Kind::proxy: return 2;
    case Kind::other: return 3;
    case Kind::none: return 4;
    }
    return 4;
}

}  // namespace

ListenerOwner owner_of(const Listener& l, const HostSnapshot* host) {
    using Kind = ListenerOwner::Kind;
    if (is_sshd(l)) return {Kind::sshd, "sshd", "the SSH daemon", nullptr, true, ""};
    if (l.pid == 0) return {Kind::none, "", "no process holds the socket", nullptr, false, ""};
    // systemd's socket units: pid 1 listens and starts the service (ssh.socket) per connection.
    if (l.pid == 1 && l.comm == "systemd") {
        const SystemdUnit* unit = socket_unit_on(host, l.addr, l.port);
        if (!unit) return {Kind::systemd_socket, "systemd", "systemd, listening for a socket unit", nullptr, false, ""};
        std::string id = unit_id(*unit);
        return {Kind::systemd_socket, id, fmt::format("systemd, listening for {}", id), unit, socket_serves_sshd(*unit),
                ""};
    }
    for (const auto& p : known_proxies)
        if (l.comm == p.comm)
            return {Kind::proxy, std::string(p.comm), std::string(p.description), nullptr, false,
                    proxied_container(l.cmdline)};
    return {Kind::other, l.comm, l.comm.empty() ? "an unnamed program" : "another program: " + l.comm, nullptr, false,
            ""};
}

std::string describe_owner(const Listener& l, const ListenerOwner& o) {
    using Kind = ListenerOwner::Kind;
    switch (o.kind) {
    case Kind::none: return "a socket with no process";
    case Kind::systemd_socket:
        return o.socket_unit ? fmt::format("{} (systemd, pid {})", o.name, l.pid) : fmt::format("systemd (pid {})", l.pid);
    case Kind::proxy:
        return o.container.empty() ? fmt::format("{} (pid {}): {}", o.name, l.pid, o.description)
                                   : fmt::format("{} (pid {}) for container {}", o.name, l.pid, o.container);
    case Kind::sshd:
    case Kind::other: break;
    }
    std::string comm = l.comm.empty() ? "?" : l.comm;
    return l.unit.empty() ? fmt::format("{} (pid {})", comm, l.pid) : fmt::format("{} (pid {}, {})", comm, l.pid, l.unit);
}

ServedBy served_by(const HostSnapshot* now, const HostSnapshot* before, const IpAddr& dst, uint16_t port) {
    for (const HostSnapshot* host : {now, before}) {
        if (!host) continue;
        ServedBy best;
        for (const auto& l : host->listeners) {
            if (l.port != port || !listener_accepts(l, dst)) continue;
            ListenerOwner o = owner_of(l, host);
            if (!best.listener || rank(o) < rank(best.owner)) best = {&l, std::move(o)};
        }
        if (best.listener) return best;
    }
    return {};
}

}  // namespace synwhy
