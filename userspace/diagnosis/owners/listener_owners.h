// Who serves a listening socket: sshd itself, systemd holding it for socket activation, a proxy
// forwarding it to a container, or another program. A refusal's or an acceptance's meaning
// depends on it (a proxy accepts for a container that may not answer; nc accepts and says nothing).
#pragma once

#include <cstdint>
#include <string>

#include "diagnosis/model.h"

namespace synwhy {

struct ListenerOwner {
    enum class Kind {
        none,            // no process holds the socket
        sshd,            // the SSH daemon
        systemd_socket,  // systemd (pid 1) listens and starts the service per connection
        proxy,           // a forwarder to a container's port (docker-proxy, rootlessport, pasta, ...)
        other,           // any other program
    };
    Kind kind = Kind::none;
    // "sshd"; the socket unit's id ("ssh.socket"), or "systemd" when no unit of the snapshot
    // listens there; the proxy's comm; the comm for other; "" for none.
    std::string name;
    std::string description;  // one line: what this owner is
    // systemd_socket: the unit whose ListenStream holds the port (points into the snapshot given).
    const SystemdUnit* socket_unit = nullptr;
    bool serves_sshd = false;  // sshd itself, or a socket unit that starts sshd
    std::string container;     // proxy: "172.17.0.2:22" when its command line names it
};

// host: its socket units tell which one pid 1 holds the socket for.
ListenerOwner owner_of(const Listener& l, const HostSnapshot* host = nullptr);

// "ssh.socket (systemd, pid 1)", "sshd (pid 812)", "nc (pid 4686, squatter.service)",
// "docker-proxy (pid 3100) for container 172.17.0.2:22".
std::string describe_owner(const Listener& l, const ListenerOwner& o);

// The listener that took (or would take) a SYN for dst:port and who serves it: from `now` when
// one there takes it, else from `before` (a socket unit that failed since the SYN). sshd first
// when several processes share the socket (Debian's ssh.socket hands it to sshd: both hold it).
struct ServedBy {
    const Listener* listener = nullptr;
    ListenerOwner owner;
};
ServedBy served_by(const HostSnapshot* now, const HostSnapshot* before, const IpAddr& dst, uint16_t port);

}  // namespace synwhy
