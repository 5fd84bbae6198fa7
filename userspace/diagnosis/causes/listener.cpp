// Refusals by the TCP stack: nothing listens, or not where the SYN went (another port, another
// address, another namespace). The fixes are sshd's: start it, or make it listen where clients go.
#include <set>

#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"

namespace synwhy {

using namespace detail;

namespace {

const SshdConfig* broken_config(const HostSnapshot* host) {
    if (!host) return nullptr;
    for (const auto& c : host->sshd_configs)
        if (!c.ok && !c.error.empty()) return &c;
    return nullptr;
}

std::vector<std::string> start_sshd_fix(const HostSnapshot* host) {
    std::vector<std::string> fix;
    if (const SshdConfig* c = broken_config(host)) {
        fix.push_back(fmt::format("fix {}: {}", c->config_path, c->error));
        fix.push_back(fmt::format("check it with: sshd -t -f {}", c->config_path));
    }
    if (host && host->systemd_running) {
        const SystemdUnit* service = nullptr;
        const SystemdUnit* socket = nullptr;
        for (const auto& u : host->units) {
            if (u.name.ends_with(".service") && !service) service = &u;
            if (u.name.ends_with(".socket") && !socket) socket = &u;
        }
        auto masked = [](const SystemdUnit* u) {
            return u && (u->load_state == "masked" || u->unit_file_state == "masked");
        };
        // Socket activation (Debian's ssh.socket, Ubuntu >= 22.10): systemd itself listens and
        // starts sshd per connection, so it is the socket unit that must run.
        if (socket && socket->unit_file_state == "enabled") {
            if (masked(socket)) fix.push_back(fmt::format("systemctl unmask {}", socket->name));
            fix.push_back(fmt::format("systemctl restart {}", socket->name));
        } else {
            std::string name = service ? service->name : "ssh.service";
            if (masked(service)) fix.push_back(fmt::format("systemctl unmask {}", name));
            fix.push_back(fmt::format("systemctl enable --now {}", name));
        }
    } else {
        std::string config = "/etc/ssh/sshd_config";
        if (host && !host->sshd_configs.empty()) config = host->sshd_configs.front().config_path;
        fix.push_back(config == "/etc/ssh/sshd_config" ? "start sshd: /usr/sbin/sshd"
                                                        : fmt::format("start sshd: /usr/sbin/sshd -f {}", config));
    }
    return fix;
}

std::string config_of(const HostSnapshot* host, int pid) {
    if (host)
        for (const auto& p : host->sshd_processes)
            if (p.pid == pid) return p.config_path;
    return "/etc/ssh/sshd_config";
}

std::string restart_sshd(const HostSnapshot* host) {
    return host && host->systemd_running ? "systemctl restart ssh" : "restart sshd (kill -HUP its daemon pid)";
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
    c.fix.push_back(fmt::format("publish the port: docker run -p {}:{} … (or a DNAT rule to the container's address)",
                                port, port));
    c.fix.push_back("or connect to the container's own address and port");
    return c;
}

Cause build_listening_elsewhere(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    const Flow* f = ctx.first;
    auto elsewhere = sshd_elsewhere(host, ctx.port, ctx.watched);
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
                                restart_sshd(host)));
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
    if (family_only)
        c.fix.push_back(fmt::format("let sshd take {} too: `AddressFamily any` and `ListenAddress {}` in {}, then {}",
                                    family_name(f->dst.family), f->dst.family == Family::ipv4 ? "0.0.0.0" : "::",
                                    config, restart_sshd(host)));
    else
        c.fix.push_back(fmt::format("listen on the address clients use: `ListenAddress {}` (or 0.0.0.0 / ::) in {}, then {}",
                                    f ? f->dst.str() : "ADDR", config, restart_sshd(host)));
    if (l && !bound.empty() && !l->addr.is_unspecified())
        c.fix.push_back(fmt::format("or connect to the bound address: ssh -p {} user@{}", port, l->addr.str()));
    return c;
}

}  // namespace synwhy
