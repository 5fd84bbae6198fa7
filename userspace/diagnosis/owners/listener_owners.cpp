#include "diagnosis/owners/listener_owners.h"

#include <array>
#include <string_view>

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

}  // namespace

ListenerOwner owner_of(const Listener& l, [[maybe_unused]] const HostSnapshot* host) {
    using Kind = ListenerOwner::Kind;
    if (is_sshd(l)) return {Kind::sshd, "sshd", "the SSH daemon"};
    if (l.pid == 0) return {Kind::none, "", "no process holds the socket"};
    // systemd's socket units: pid 1 listens and starts the service (ssh.socket) per connection.
    if (l.pid == 1 && l.comm == "systemd")
        return {Kind::systemd_socket, "systemd", "systemd, listening for a socket unit"};
    for (const auto& p : known_proxies)
        if (l.comm == p.comm) return {Kind::proxy, std::string(p.comm), std::string(p.description)};
    return {Kind::other, l.comm, l.comm.empty() ? "an unnamed program" : "another program: " + l.comm};
}

}  // namespace synwhy
