// Who serves a listening socket: sshd itself, another SSH server, systemd holding it for socket
// activation, a proxy forwarding it to a container, or another program. A refusal's or an
// acceptance's meaning depends on it (a proxy accepts for a container that may not answer; nc
// accepts and says nothing; dropbear answers SSH as well as sshd does).
#pragma once

#include <cstdint>
#include <string>

#include "diagnosis/model.h"

namespace synwhy {

struct ListenerOwner {
    enum class Kind {
        none,            // no process holds the socket
        sshd,            // the SSH daemon
        ssh_server,      // another SSH server (dropbear, gitea, teleport, ...): it answers SSH
        systemd_socket,  // systemd (pid 1) listens and starts the service per connection
        proxy,           // a forwarder to a container's port (docker-proxy, rootlessport, pasta, ...)
        other,           // any other program
    };
    Kind kind = Kind::none;
    // "sshd"; the server's comm for ssh_server; the socket unit's id ("ssh.socket"), or "systemd"
    // when no unit of the snapshot listens there; the proxy's comm; the comm for other; "" for none.
    std::string name;
    std::string description;  // one line: what this owner is
    // systemd_socket: the unit whose ListenStream holds the port (points into the snapshot given).
    const SystemdUnit* socket_unit = nullptr;
    bool serves_sshd = false;  // sshd itself, or a socket unit that starts sshd
    // Whatever answers is an SSH server: sshd, ssh_server, or a socket unit that starts one
    // (tinysshd.socket, dropbear.socket). What we do not know is not accused of being none.
    bool serves_ssh = false;
    std::string container;     // proxy: "172.17.0.2:22" when its command line names it
};

// host: its socket units tell which one pid 1 holds the socket for.
ListenerOwner owner_of(const Listener& l, const HostSnapshot* host = nullptr);

// "ssh.socket (systemd, pid 1)", "sshd (pid 812)", "nc (pid 4686, squatter.service)",
// "docker-proxy (pid 3100) for container 172.17.0.2:22", "foo (pid 4700, foo.service of user 1000)".
std::string describe_owner(const Listener& l, const ListenerOwner& o);

// The systemd unit a listener's process runs in, read from Listener::unit. A user's service sits
// under its user manager: the host side records it as "user@1000.service/foo.service" (any path
// of units naming user@UID.service), where `systemctl stop foo.service` would act on the system
// manager instead.
struct HolderUnit {
    enum class Kind {
        none,            // no unit known
        system_service,  // a .service of the system manager
        user_service,    // a .service of a user's manager
        other,           // a scope (a login session, a container), a slice, ...
    };
    Kind kind = Kind::none;
    std::string name;  // "squatter.service", "foo.service", "session-3.scope"
    std::string uid;   // user_service: the user manager's UID
    // A daemon that runs more than the listener (docker.service, containerd.service, dbus.service,
    // systemd-*.service, sshd's own unit, ...): stopping it stops all of them.
    bool shared_daemon = false;
};
HolderUnit holder_unit(const Listener& l);

// The listener that took (or would take) a SYN for dst:port and who serves it: from `now` when
// one there takes it, else from `before` (a socket unit that failed since the SYN). sshd first
// when several processes share the socket (Debian's ssh.socket hands it to sshd: both hold it).
struct ServedBy {
    const Listener* listener = nullptr;
    ListenerOwner owner;
};
ServedBy served_by(const HostSnapshot* now, const HostSnapshot* before, const IpAddr& dst, uint16_t port);

}  // namespace synwhy
