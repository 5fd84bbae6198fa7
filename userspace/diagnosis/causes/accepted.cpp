// Handshakes that completed: TCP is fine, whatever fails comes after. Unless who completed it is
// not sshd: systemd's socket for an sshd whose every start fails, or another program on sshd's port.
#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"
#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/ssh_units.h"

namespace synwhy {

using namespace detail;

namespace {

// Who took the group's first handshake (from before the SYN when it no longer listens).
ServedBy first_served(const CauseContext& ctx) {
    if (!ctx.first) return {};
    return served_by(ctx.host, ctx.at_start, ctx.first->dst, ctx.first->dport);
}

std::vector<std::string> served_evidence(const ServedBy& served) {
    if (!served.listener) return {};
    const Listener& l = *served.listener;
    return {fmt::format("accepted by: {} on {}", describe_owner(l, served.owner), endpoint(l.addr, l.port))};
}

}  // namespace

Cause build_accepted(const CauseContext& ctx) {
    Cause c = ctx.start();
    c.summary = fmt::format("{} to {} completed the TCP handshake",
                            detail::plural(c.flows, "connection", "connections"), ctx.target);
    ctx.add_details(c);
    c.evidence.push_back("TCP is fine: if the client still fails, look after the handshake "
                         "(authentication, MaxStartups, the banner; ssh -v)");
    ServedBy served = first_served(ctx);
    if (served.listener && served.owner.kind == ListenerOwner::Kind::ssh_server)
        c.evidence.push_back(fmt::format("the SSH server on :{} is {}, {}: not OpenSSH's sshd, so its own settings "
                                         "apply, not sshd_config's",
                                         ctx.port, served.owner.description,
                                         describe_owner(*served.listener, served.owner)));
    return c;
}

Cause build_sshd_failing(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    ServedBy served = first_served(ctx);
    SshUnits units = ssh_units_of(host);
    std::string at = served.listener ? describe_owner(*served.listener, served.owner) : "systemd's socket for sshd";
    c.summary = fmt::format("the TCP handshake to {} completes at {}, but every {} start fails: {}", ctx.target, at,
                            units.service_id, why_ssh_service_fails(host, units));
    ctx.add_details(c);
    append(c.evidence, served_evidence(served));
    const SystemdUnit* socket = served.owner.socket_unit;
    if (socket) {
        SocketPortMismatch where{socket, ctx.port, ctx.port, ""};
        c.evidence.push_back(socket_port_evidence(host, where).front());  // its ListenStream, Accept=, service
    }
    c.evidence.push_back("the client sees its connection reset or closed before the SSH banner; once the service "
                         "hits its start limit the socket fails too and connections are refused");
    append(c.evidence, sshd_state_evidence(host));
    if (socket) c.fix = failing_service_fix(host, *socket);
    else if (units.socket) c.fix = failing_service_fix(host, *units.socket);
    return c;
}

namespace {

// What to do about the program on sshd's port: see what it is, then stop it only where that is
// safe. A user's service and a process inside a daemon that runs more (docker.service,
// containerd.service) get no stop line: `systemctl stop` would miss the one or take the others.
std::vector<std::string> squatter_fix(const Listener& l, uint16_t port, const std::string& restart) {
    std::string comm = l.comm.empty() ? "?" : l.comm;
    std::string ps = fmt::format("ps -o user,pid,cmd -p {}", l.pid);
    HolderUnit unit = holder_unit(l);
    switch (unit.kind) {
    case HolderUnit::Kind::system_service:
        if (unit.shared_daemon)
            return {fmt::format("see what holds :{}: systemctl status {} ({}, pid {})", port, unit.name, comm, l.pid),
                    fmt::format("{} runs more than {}: stop that program where it was started, not the unit ({})",
                                unit.name, comm, ps)};
        return {fmt::format("see what holds :{}: systemctl status {} ({}, pid {})", port, unit.name, comm, l.pid),
                fmt::format("if sshd should have :{}, stop it: systemctl stop {}, then {}", port, unit.name, restart)};
    case HolderUnit::Kind::user_service:
        return {fmt::format("see what holds :{}: {} ({}, {} of user {})", port, ps, comm, unit.name, unit.uid)};
    case HolderUnit::Kind::other:
    case HolderUnit::Kind::none: break;
    }
    std::string in = unit.name.empty() ? "" : ", in " + unit.name;
    return {fmt::format("see what holds :{}: {} ({}{})", port, ps, comm, in),
            fmt::format("if it should not be there: kill {}, then {}", l.pid, restart)};
}

}  // namespace

Cause build_not_sshd(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    ServedBy served = first_served(ctx);
    std::string who = served.listener ? describe_owner(*served.listener, served.owner) : "another program";
    c.summary = fmt::format("port {} is held by {}, not sshd: the handshake completes but no SSH server answers",
                            ctx.port, who);
    ctx.add_details(c);
    append(c.evidence, served_evidence(served));
    append(c.evidence, sshd_state_evidence(host));
    if (served.listener) c.fix = squatter_fix(*served.listener, ctx.port, restart_sshd_command(host));
    c.fix.push_back(fmt::format("or give sshd a free port (its Port setting) and connect with ssh -p PORT user@{}",
                                ctx.first ? ctx.first->dst.str() : "HOST"));
    return c;
}

}  // namespace synwhy
