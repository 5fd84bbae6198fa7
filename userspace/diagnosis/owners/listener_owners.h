// Who serves a listening socket: sshd itself, systemd holding it for socket activation, a proxy
// forwarding it to a container, or another program. A refusal's or an acceptance's meaning
// depends on it (a proxy accepts for a container that may not answer).
#pragma once

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
    std::string name;         // "sshd", "systemd", "docker-proxy"; the comm for other; "" for none
    std::string description;  // one line: what this owner is
};

// host: for recognizers that need more than the socket's process (none yet).
ListenerOwner owner_of(const Listener& l, const HostSnapshot* host = nullptr);

}  // namespace synwhy
