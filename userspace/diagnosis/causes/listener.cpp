// Refusals by the TCP stack: nothing listens, or not where the SYN went (another port, another
// address, another namespace). The fixes are sshd's: start it (owners/ssh_units.h knows how, by
// its units' state), or make it listen where clients go (under socket activation: the socket's port).
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"
#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/ssh_units.h"

namespace synwhy {

using namespace detail;

namespace {

std::string config_of(const HostSnapshot* host, int pid) {
    if (host)
        for (const auto& p : host->sshd_processes)
            if (p.pid == pid) return p.config_path;
    return "/etc/ssh/sshd_config";
}

// The host port to publish a container's sshd on: the port itself, unless the host's own sshd
// wants it (its config lists it, or its unit is installed and the port is 22): then a free one
// beside it, 0 when none of the usual ones is free.
uint16_t publish_port_for(const HostSnapshot* host, uint16_t port) {
    bool host_sshd_wants_it = false;
    if (host) {
        for (const auto& c : host->sshd_configs)
            if (std::find(c.ports.begin(), c.ports.end(), port) != c.ports.end()) host_sshd_wants_it = true;
        SshUnits units = ssh_units_of(host);
        if (units.service && units.service->load_state == "loaded" && port == 22) host_sshd_wants_it = true;
    }
    if (!host_sshd_wants_it) return port;
    for (uint16_t candidate : {2222, 2200, 2022, 10022})
        if (candidate != port && listeners_on(host, candidate).empty()) return candidate;
    return 0;
}

// The socket unit whose ListenStream holds `port` for sshd, whoever holds its socket now (pid 1,
// or sshd after Debian's Accept=no hand-over).
const SystemdUnit* sshd_socket_on(const HostSnapshot* host, const std::vector<const Listener*>& on_port) {
    for (const Listener* l : on_port) {
        ListenerOwner owner = owner_of(*l, host);
        if (owner.socket_unit && owner.serves_sshd) return owner.socket_unit;
        if (owner.kind != ListenerOwner::Kind::sshd) continue;
        const SystemdUnit* socket = socket_unit_on(host, l->addr, l->port);
        if (socket && socket_serves_sshd(*socket) && socket->active_state == "active") return socket;
    }
    return nullptr;
}

}  // namespace

Cause build_no_listener(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    c.summary = fmt::format("connections to {} are refused: nothing listens on port {}", ctx.target, ctx.port);
    ctx.add_details(c);
    append(c.evidence, listener_evidence(host, ctx.port));
    append(c.evidence, search_limit_evidence(host));
    append(c.evidence, sshd_state_evidence(host));
    c.fix = start_sshd_fix(host);
    return c;
}

Cause build_other_netns(const CauseContext& ctx) {
    Cause c = ctx.start();
    uint16_t port = ctx.port;
    auto foreign = foreign_on(ctx.host, port);
    c.summary = fmt::format("connections to {} are refused: nothing listens on :{} in this namespace; {}", ctx.target,
                            port, foreign.empty() ? std::string("a listener exists in another one")
                                                  : describe_foreign(*foreign.front()));
    ctx.add_details(c);
    for (const ForeignListener* x : foreign) c.evidence.push_back("listening elsewhere: " + describe_foreign(*x));
    append(c.evidence, listener_evidence(ctx.host, port));
    append(c.evidence, search_limit_evidence(ctx.host));
    c.evidence.push_back("no DNAT maps the port: the SYN was answered by this namespace's TCP stack");
    uint16_t host_port = publish_port_for(ctx.host, port);
    if (host_port == port)
        c.fix.push_back(fmt::format("publish the port: docker run -p {}:{} … (or a DNAT rule to the container's address)",
                                    port, port));
    else {
        std::string beside = host_port ? std::to_string(host_port) : std::string("HOSTPORT");
        c.fix.push_back(fmt::format("publish it beside the host's own sshd: docker run -p {}:{} … then ssh -p {} (or a "
                                    "DNAT rule to the container's address)",
                                    beside, port, beside));
    }
    c.fix.push_back("or connect to the container's own address and port");
    return c;
}

namespace {

// Under socket activation the socket's ListenStream decides sshd's port: its fix is the socket's.
Cause socket_listening_elsewhere(const CauseContext& ctx, const Listener& l, const ListenerOwner& owner) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    c.summary = fmt::format("connections to {} are refused: nothing listens on :{}; {} listens on :{}", ctx.target,
                            ctx.port, describe_owner(l, owner), l.port);
    ctx.add_details(c);
    for (const Listener* x : sshd_elsewhere(host, ctx.port, ctx.watched))
        c.evidence.push_back(fmt::format("listening: {} on {}", describe_owner(*x, owner_of(*x, host)),
                                         endpoint(x->addr, x->port)));
    SocketPortMismatch mismatch{owner.socket_unit, ctx.port, l.port, ctx.first ? ctx.first->dst.str() : "HOST"};
    append(c.evidence, socket_port_evidence(host, mismatch));
    append(c.evidence, sshd_state_evidence(host));
    c.fix = socket_port_fix(host, mismatch);
    return c;
}

}  // namespace

Cause build_listening_elsewhere(const CauseContext& ctx) {
    const HostSnapshot* host = ctx.host;
    auto elsewhere = sshd_elsewhere(host, ctx.port, ctx.watched);
    for (const Listener* x : elsewhere)
        if (ListenerOwner owner = owner_of(*x, host); owner.socket_unit) return socket_listening_elsewhere(ctx, *x, owner);
    Cause c = ctx.start();
    const Flow* f = ctx.first;
    std::set<uint16_t> other_ports;
    for (const Listener* l : elsewhere) other_ports.insert(l->port);
    uint16_t other = other_ports.empty() ? 0 : *other_ports.begin();
    const Listener* l = elsewhere.empty() ? nullptr : elsewhere.front();
    c.summary = fmt::format("connections to {} are refused: nothing listens on :{}; {} listens on :{}", ctx.target,
                            ctx.port, l ? fmt::format("sshd (pid {})", l->pid) : std::string("sshd"), other);
    ctx.add_details(c);
    for (const Listener* x : elsewhere) c.evidence.push_back("listening: " + describe_listener(*x));
    append(c.evidence, sshd_state_evidence(host));
    std::string addr = f ? f->dst.str() : "HOST";
    c.fix.push_back(fmt::format("connect to the port sshd uses: ssh -p {} user@{}", other, addr));
    c.fix.push_back(fmt::format("or set `Port {}` in {} and {}", ctx.port, config_of(host, l ? l->pid : 0),
                                restart_sshd_command(host)));
    return c;
}

Cause build_bound_other_address(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    const Flow* f = ctx.first;
    uint16_t port = ctx.port;
    auto on_port = listeners_on(host, port);
    std::vector<std::string> bound;
    for (const Listener* l : on_port) bound.push_back(l->addr.str() + (l->v6only ? " (v6only)" : ""));
    const Listener* l = on_port.empty() ? nullptr : on_port.front();
    c.summary = fmt::format("connections to {} are refused: {} listens on port {} only at {}", ctx.target,
                            l ? fmt::format("{} (pid {})", l->comm, l->pid) : std::string("a socket"), port,
                            join(bound, ", "));
    ctx.add_details(c);
    for (const Listener* x : on_port)
        c.evidence.push_back(fmt::format("listening: {}{}", describe_listener(*x), x->v6only ? " (IPv6 only)" : ""));
    append(c.evidence, sshd_state_evidence(host));
    std::string config = config_of(host, l ? l->pid : 0);
    bool family_only = l && f && l->addr.is_unspecified();
    // Under socket activation the socket's ListenStream holds the address, not sshd_config.
    if (const SystemdUnit* socket = sshd_socket_on(host, on_port))
        c.fix = socket_address_fix(host, *socket, port, l && l->v6only);
    else if (family_only)
        c.fix.push_back(fmt::format("let sshd take {} too: `AddressFamily any` and `ListenAddress {}` in {}, then {}",
                                    family_name(f->dst.family), f->dst.family == Family::ipv4 ? "0.0.0.0" : "::",
                                    config, restart_sshd_command(host)));
    else
        c.fix.push_back(fmt::format("listen on the address clients use: `ListenAddress {}` (or 0.0.0.0 / ::) in {}, then {}",
                                    f ? f->dst.str() : "ADDR", config, restart_sshd_command(host)));
    if (l && !bound.empty() && !l->addr.is_unspecified())
        c.fix.push_back(fmt::format("or connect to the bound address: ssh -p {} user@{}", port, l->addr.str()));
    return c;
}

}  // namespace synwhy
