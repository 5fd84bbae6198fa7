#include "diagnosis/owners/listener_owners.h"

#include <algorithm>
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

struct KnownSshServer {
    std::string_view comm;  // as /proc/PID/comm has it, or its binary's name
    std::string_view description;
};

// SSH servers other than OpenSSH's sshd: a handshake they complete is an SSH server answering.
constexpr std::array<KnownSshServer, 7> known_ssh_servers{{
    {"dropbear", "Dropbear SSH server"},
    {"tinysshd", "TinySSH server"},
    {"gitea", "Gitea's built-in SSH server"},
    {"forgejo", "Forgejo's built-in SSH server"},
    {"gitlab-sshd", "GitLab's SSH server"},
    {"teleport", "Teleport's SSH service"},
    {"sshpiperd", "sshpiper, an SSH reverse proxy"},
}};

// A socket unit named so, or starting a service named so, serves SSH (tinysshd.socket starts
// tinysshd@.service per connection).
constexpr std::array<std::string_view, 4> ssh_unit_prefixes = {"ssh", "sshd", "dropbear", "tinysshd"};

// Units that run more than the one program: stopping them for a listener stops everything else
// they run (a session's processes sit in ssh.service where logind does not move them).
constexpr std::array<std::string_view, 24> shared_daemon_units = {
    "docker.service",      "containerd.service",  "crio.service",           "kubelet.service",
    "k3s.service",         "k3s-agent.service",   "rke2-server.service",    "rke2-agent.service",
    "podman.service",      "snapd.service",       "dbus.service",           "dbus-broker.service",
    "NetworkManager.service", "cron.service",     "crond.service",          "atd.service",
    "lxd.service",         "incus.service",       "libvirtd.service",       "supervisor.service",
    "supervisord.service", "ssh.service",         "sshd.service",           "polkit.service"};
constexpr std::array<std::string_view, 5> shared_daemon_prefixes = {"systemd-", "user@", "getty@", "serial-getty@",
                                                                    "snap.lxd."};

constexpr std::array<std::string_view, 6> unit_suffixes = {".service", ".scope", ".slice", ".socket", ".mount", ".swap"};

bool is_sshd(const Listener& l) { return l.comm == "sshd" || l.exe.ends_with("/sshd"); }

std::string_view base_name(std::string_view path) { return path.substr(path.rfind('/') + 1); }

const KnownSshServer* known_ssh_server(const Listener& l) {
    for (const auto& s : known_ssh_servers)
        if (l.comm == s.comm || (!l.exe.empty() && base_name(l.exe) == s.comm)) return &s;
    return nullptr;
}

bool named_as_ssh(std::string_view unit) {
    return std::any_of(ssh_unit_prefixes.begin(), ssh_unit_prefixes.end(),
                       [&](std::string_view prefix) { return unit.starts_with(prefix); });
}

bool socket_serves_ssh(const SystemdUnit& socket) {
    return socket_serves_sshd(socket) || named_as_ssh(unit_id(socket)) ||
           std::any_of(socket.triggers.begin(), socket.triggers.end(),
                       [](const std::string& t) { return named_as_ssh(t); });
}

bool is_shared_daemon(std::string_view unit) {
    return std::find(shared_daemon_units.begin(), shared_daemon_units.end(), unit) != shared_daemon_units.end() ||
           std::any_of(shared_daemon_prefixes.begin(), shared_daemon_prefixes.end(),
                       [&](std::string_view prefix) { return unit.starts_with(prefix); });
}

bool is_unit_name(std::string_view part) {
    return std::any_of(unit_suffixes.begin(), unit_suffixes.end(),
                       [&](std::string_view suffix) { return part.size() > suffix.size() && part.ends_with(suffix); });
}

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
    case Kind::systemd_socket: return o.serves_sshd ? 1 : o.serves_ssh ? 2 : 3;
    case Kind::ssh_server: return 2;
    case Kind::proxy: return 2;
    case Kind::other: return 3;
    case Kind::none: return 4;
    }
    return 4;
}

}  // namespace

ListenerOwner owner_of(const Listener& l, const HostSnapshot* host) {
    using Kind = ListenerOwner::Kind;
    ListenerOwner o;
    if (is_sshd(l)) {
        o.kind = Kind::sshd;
        o.name = "sshd";
        o.description = "the SSH daemon";
        o.serves_sshd = o.serves_ssh = true;
        return o;
    }
    if (l.pid == 0) {
        o.description = "no process holds the socket";
        return o;
    }
    // systemd's socket units: pid 1 listens and starts the service (ssh.socket) per connection.
    if (l.pid == 1 && l.comm == "systemd") {
        o.kind = Kind::systemd_socket;
        o.socket_unit = socket_unit_on(host, l.addr, l.port);
        o.name = o.socket_unit ? unit_id(*o.socket_unit) : "systemd";
        o.description = o.socket_unit ? "systemd, listening for " + o.name : "systemd, listening for a socket unit";
        o.serves_sshd = o.socket_unit && socket_serves_sshd(*o.socket_unit);
        o.serves_ssh = o.socket_unit && socket_serves_ssh(*o.socket_unit);
        return o;
    }
    if (const KnownSshServer* server = known_ssh_server(l)) {
        o.kind = Kind::ssh_server;
        o.name = l.comm.empty() ? std::string(server->comm) : l.comm;
        o.description = server->description;
        o.serves_ssh = true;
        return o;
    }
    for (const auto& p : known_proxies)
        if (l.comm == p.comm) {
            o.kind = Kind::proxy;
            o.name = p.comm;
            o.description = p.description;
            o.container = proxied_container(l.cmdline);
            return o;
        }
    o.kind = Kind::other;
    o.name = l.comm;
    o.description = l.comm.empty() ? "an unnamed program" : "another program: " + l.comm;
    return o;
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
    case Kind::ssh_server:
    case Kind::other: break;
    }
    std::string comm = l.comm.empty() ? "?" : l.comm;
    HolderUnit unit = holder_unit(l);
    std::string where = unit.kind == HolderUnit::Kind::user_service ? fmt::format(", {} of user {}", unit.name, unit.uid)
                        : unit.name.empty()                          ? ""
                                                                     : ", " + unit.name;
    return fmt::format("{} (pid {}{})", comm, l.pid, where);
}

HolderUnit holder_unit(const Listener& l) {
    HolderUnit h;
    std::string uid;
    std::string_view path = l.unit;
    while (!path.empty()) {
        size_t slash = path.find('/');
        std::string_view part = path.substr(0, slash);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
        if (!is_unit_name(part)) continue;
        h.name = std::string(part);
        if (part.starts_with("user@") && part.ends_with(".service")) uid = std::string(part.substr(5, part.size() - 13));
    }
    if (h.name.empty()) return h;
    bool under_user_manager = !uid.empty() && !h.name.starts_with("user@");
    if (!h.name.ends_with(".service")) h.kind = HolderUnit::Kind::other;
    else if (under_user_manager) h.kind = HolderUnit::Kind::user_service;
    else h.kind = HolderUnit::Kind::system_service;
    if (h.kind == HolderUnit::Kind::user_service) h.uid = uid;
    h.shared_daemon = h.kind == HolderUnit::Kind::system_service && is_shared_daemon(h.name);
    return h;
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
