// A published port whose DNAT target refused the SYN (a container's sshd stopped). The host's
// own listeners are beside the point: what to start is behind the DNAT, in the target's
// namespace, so the fix names it and how to look inside; no command is guessed for a container
// synwhy cannot name.
#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"

namespace synwhy {

using namespace detail;

namespace {

const NetnsView* target_view(const HostSnapshot* host, uint32_t netns) {
    if (!host) return nullptr;
    auto it = std::find_if(host->dnat_targets.begin(), host->dnat_targets.end(),
                           [&](const NetnsView& v) { return v.netns == netns; });
    return it != host->dnat_targets.end() ? &*it : nullptr;
}

// "netns ctr (docker 3f2a1b9c0d4e)", or by inode when nothing names it; netns 0: the DNAT (a
// REDIRECT) stayed in the flow's own namespace.
std::string netns_label(const NetnsView* view, uint32_t netns) {
    if (!netns) return "this namespace";
    std::string label = view && !view->netns_name.empty() ? "netns " + view->netns_name : fmt::format("netns {}", netns);
    if (view && !view->container.empty()) label += " (" + view->container + ")";
    return label;
}

std::string look_inside_command(const NetnsView* view, uint32_t netns) {
    if (!netns) return "see what listens here: ss -ltnp";
    if (view && !view->netns_name.empty())
        return fmt::format("see what listens there: ip netns exec {} ss -ltnp", view->netns_name);
    if (view && view->pid) return fmt::format("see what listens there: nsenter -t {} -n ss -ltnp", view->pid);
    return fmt::format("find a process of netns {} (lsns -t net), then see what listens there: nsenter -t PID -n ss -ltnp",
                       netns);
}

// Where the target's namespace does listen: the SSH server on another port is the likely story.
void add_target_listeners(Cause& c, const std::vector<Listener>& listeners, const IpAddr& target_addr,
                          uint16_t target_port) {
    if (listeners.empty()) {
        c.evidence.push_back("nothing listens on any TCP port in that namespace");
        return;
    }
    for (const Listener& l : listeners) {
        std::string who = l.comm.empty() ? std::string("a socket") : fmt::format("{} (pid {})", l.comm, l.pid);
        std::string unlike = l.port != target_port ? fmt::format("not :{}", target_port)
                                                   : fmt::format("not on {}", target_addr.str());
        c.evidence.push_back(fmt::format("listening there: {} on {} ({})", who, endpoint(l.addr, l.port), unlike));
    }
}

}  // namespace

Cause build_dnat_refused(const CauseContext& ctx) {
    Cause c = ctx.start();
    const Flow* f = ctx.first;
    const std::string published = f ? endpoint(f->dst, f->dport) : ctx.target;
    const std::string target = f && f->nat_dst ? endpoint(*f->nat_dst, f->nat_dport) : std::string("its DNAT target");
    const uint32_t netns = f ? f->nat_netns : 0;
    const NetnsView* view = target_view(ctx.host, netns);
    const std::string where = netns_label(view, netns);
    c.summary = fmt::format("connections to {} are refused behind its DNAT: nothing listens on {} in {}", published,
                            target, where);
    ctx.add_details(c);
    if (netns)
        c.evidence.push_back(fmt::format("the port is published: a DNAT sends {} to {}; the refusal came from there, "
                                         "not from this namespace's TCP stack",
                                         published, target));
    else
        c.evidence.push_back(fmt::format("a DNAT or REDIRECT in this namespace sends {} to {}, where nothing listens",
                                         published, target));
    if (f && f->nat_dst) {
        if (view)
            add_target_listeners(c, view->listeners, *f->nat_dst, f->nat_dport);
        else if (!netns && ctx.host)
            add_target_listeners(c, ctx.host->listeners, *f->nat_dst, f->nat_dport);
    }
    c.fix.push_back(fmt::format("start the SSH server behind the published port, in {} (nothing listens on {}), or "
                                "point the DNAT at the port it listens on",
                                where, target));
    c.fix.push_back(look_inside_command(view, netns));
    if (netns && view && view->container.starts_with("docker ") && f)
        c.fix.push_back(fmt::format("Docker publishes it: docker logs {} tells why its SSH server is not running",
                                    view->container.substr(7)));
    else if (netns && has_manager(ctx.host, "docker") && f)
        c.fix.push_back(fmt::format("if Docker publishes it: docker ps --filter publish={} names the container; docker "
                                    "logs CONTAINER tells why its SSH server is not running",
                                    f->dport));
    return c;
}

}  // namespace synwhy
