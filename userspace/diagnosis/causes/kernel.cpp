// The kernel's own ends for a SYN: dropped before TCP (conntrack, rp_filter, tc, XDP, ...), a
// listener too busy to accept, a handshake that never finished, or nothing seen at all.
#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"
#include "diagnosis/drop_fallback.h"

namespace synwhy {

using namespace detail;

namespace {

// The tc or XDP programs attached where the drop happened (ingress for tc).
std::vector<const NetProgram*> programs_on(const HostSnapshot* host, const std::string& ifname, bool xdp) {
    std::vector<const NetProgram*> out;
    if (!host) return out;
    for (const NetProgram& p : host->net_programs)
        if (p.ifname == ifname && (xdp ? p.attach.rfind("xdp", 0) == 0 : p.attach.find("egress") == std::string::npos &&
                                                                          p.attach.rfind("tc", 0) == 0))
            out.push_back(&p);
    return out;
}

// A network plugin or load balancer whose BPF datapath sits on the node's interfaces: detaching
// its program cuts the node (and every pod or service behind it) off the network.
struct NetworkPlugin {
    std::string_view name;
    std::vector<std::string_view> prog_prefixes;  // its programs' names (the kernel keeps 15 characters)
    std::vector<std::string_view> comm_prefixes;  // the processes that load and hold them
    std::string_view inspect;                     // where to see what it drops and why
    std::string_view manager;                     // its daemon in host->firewall_managers, "" if not probed
};

const std::vector<NetworkPlugin>& network_plugins() {
    static const std::vector<NetworkPlugin> table = {
        {"Cilium", {"cil_"}, {"cilium-agent"}, "see what Cilium drops and why: cilium monitor --type drop; cilium policy get",
         "cilium"},
        {"Calico", {"calico", "cali_"}, {"calico-node", "calico-felix"},
         "see the policies that apply to this host: calicoctl get globalnetworkpolicy,hostendpoint -o wide", "calico"},
        {"Antrea", {"antrea"}, {"antrea-agent"}, "see the policies in force: kubectl get networkpolicy -A; kubectl get acnp,anp -A", ""},
        {"kube-router", {}, {"kube-router"}, "see the policies in force: kubectl get networkpolicy -A", ""},
        // Katran's XDP entry is balancer_ingress, cut to 15 characters by the kernel.
        {"Katran", {"balancer_ingres"}, {"katran"},
         "see which VIPs and backends it serves in the program that loads it (its holder above)", ""},
        {"flannel", {"flannel"}, {"flanneld"}, "see flannel's configuration: kubectl get configmap -A | grep flannel", ""},
    };
    return table;
}

bool starts_with_any(const std::string& s, const std::vector<std::string_view>& prefixes) {
    return !s.empty() && std::any_of(prefixes.begin(), prefixes.end(), [&](std::string_view p) { return s.starts_with(p); });
}

// The plugin whose datapath the programs are: by a program's name or holder, else by a plugin
// daemon found running (a program may be pinned, with no name the table knows).
const NetworkPlugin* network_plugin(const HostSnapshot* host, const std::vector<const NetProgram*>& programs) {
    for (const NetProgram* p : programs)
        for (const NetworkPlugin& plugin : network_plugins())
            if (starts_with_any(p->prog_name, plugin.prog_prefixes) || starts_with_any(p->holder_comm, plugin.comm_prefixes))
                return &plugin;
    for (const NetworkPlugin& plugin : network_plugins())
        if (!plugin.manager.empty() && has_manager(host, std::string(plugin.manager))) return &plugin;
    return nullptr;
}

// Names the program that drops; a plugin's is only inspected, any other may be removed once
// the operator has seen it. lines: {how to see it, how to remove it}.
void explain_program(Cause& c, const HostSnapshot* host, const std::string& ifname, bool xdp,
                     const std::array<std::string, 2>& lines) {
    auto programs = programs_on(host, ifname, xdp);
    for (const NetProgram* p : programs) c.evidence.push_back(describe_net_program(*p));
    const NetworkPlugin* plugin = network_plugin(host, programs);
    if (!plugin) {
        c.fix.push_back(lines[0]);
        c.fix.push_back("if it is not part of a network plugin, " + lines[1]);
        return;
    }
    c.summary += fmt::format(" ({}'s datapath)", plugin->name);
    c.fix.push_back(fmt::format("it is {}'s datapath: do not remove it (the node would lose its network); "
                                "inspect it: bpftool net show dev {}", plugin->name, ifname));
    c.fix.push_back(std::string(plugin->inspect));
}

// The drops with a known remedy, by reason and, where the reason is generic, by location.
// ifname: the device that received the SYN (where tc and XDP programs run); ip_ifname: where IP
// received it (a bridge, a VLAN interface: where rp_filter applies).
void explain_drop(Cause& c, const CauseContext& ctx, const std::string& reason, const std::string& location,
                  const std::string& ifname, const std::string& ip_ifname) {
    const HostSnapshot* host = ctx.host;
    const std::string& target = ctx.target;
    bool conntrack_full = conntrack_nearly_full(host);
    if (reason == "NETFILTER_DROP" && conntrack_full) {
        c.summary = fmt::format("the conntrack table is full ({}/{}): new connections to {} are dropped",
                                host->conntrack_count, host->conntrack_max, target);
        c.fix.push_back(fmt::format("raise the limit, in the root network namespace (one limit for all): "
                                    "sysctl -w net.netfilter.nf_conntrack_max={}",
                                    host->conntrack_max * 2));
        c.fix.push_back("and find who fills it: conntrack -S; conntrack -L | awk '{print $5}' | sort | uniq -c | sort -rn | head");
    } else if (reason == "IP_RPFILTER") {
        c.summary = fmt::format("reverse-path filtering drops SYNs to {}: the route back to the client leaves "
                                "by another interface than {}", target, ip_ifname);
        c.fix.push_back("fix the route back to the client (ip route get CLIENT_ADDR), or make the filter loose: "
                        "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf." + ip_ifname + ".rp_filter=2");
    } else if (reason == "TC_INGRESS" || location.rfind("tcf_", 0) == 0) {
        c.summary = fmt::format("a tc ingress filter on {} drops SYNs to {}", ifname, target);
        explain_program(c, host, ifname, false,
                        {fmt::format("see it: tc filter show dev {} ingress; bpftool net show dev {}", ifname, ifname),
                         fmt::format("remove that filter (its pref and handle are in the show output): "
                                     "tc filter del dev {} ingress pref PREF handle HANDLE bpf", ifname)});
    } else if (reason == "XDP" || location.rfind("do_xdp_generic", 0) == 0 || location.rfind("bpf_prog_run_generic_xdp", 0) == 0) {
        c.summary = fmt::format("an XDP program on {} drops SYNs to {}", ifname, target);
        explain_program(c, host, ifname, true,
                        {fmt::format("see it: ip link show dev {} (xdp/xdpgeneric prog/id), bpftool net show dev {}",
                                     ifname, ifname),
                         fmt::format("detach it: ip link set dev {} xdpgeneric off (or xdp off)", ifname)});
    } else if (reason.empty()) {
        // A kernel without drop reasons (before 5.17), at a place drop_fallback cannot read.
        std::string function = location.empty() ? "the function named" : location.substr(0, location.find('+'));
        c.summary = fmt::format("the kernel drops SYNs to {} in {} (this kernel gives no drop reason)", target, function);
        c.fix.push_back(fmt::format("look up where {} frees packets (kfree_skb calls) in this kernel's source", function));
    } else {
        c.summary = fmt::format("the kernel drops SYNs to {}: reason {}", target, reason);
        c.fix.push_back(fmt::format("look up drop reason {} (include/net/dropreason-core.h) and {}", reason,
                                    location.empty() ? "the function named" : location.substr(0, location.find('+'))));
    }
}

}  // namespace

Cause build_kernel_drop(const CauseContext& ctx) {
    Cause c = ctx.start();
    ctx.add_details(c);
    const Flow* f = ctx.first;
    std::string reason, location, ifname = f && !f->ifname.empty() ? f->ifname : "IF";
    std::string ip_ifname = f && !f->ip_ifname.empty() ? f->ip_ifname : ifname;
    for (const FlowEvidence* e : ctx.evidence)
        if (e->inbound_drop) {
            reason = drop_meaning(*e, *e->inbound_drop).reason;  // NETFILTER_DROP for a full conntrack table
            location = e->inbound_drop->location;
        }
    explain_drop(c, ctx, reason, location, ifname, ip_ifname);
    return c;
}

Cause build_listen_overflow(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    c.summary = fmt::format("the listener on {} does not accept: its queue is full", ctx.target);
    ctx.add_details(c);
    if (host && host->listen_overflows_grew >= 0)
        c.evidence.push_back(fmt::format("TcpExt ListenOverflows +{}, ListenDrops +{} during the capture",
                                         host->listen_overflows_grew, host->listen_drops_grew));
    for (const Listener* l : listeners_on(host, ctx.port))
        if (l->pid)
            c.fix.insert(c.fix.begin(), fmt::format("look at {} (pid {}): ps -o stat,pid,cmd -p {} "
                                                    "(T = stopped: kill -CONT {}; else restart it)",
                                                    l->comm, l->pid, l->pid, l->pid));
    c.fix.push_back("sshd is stuck or overloaded: look at its state (ps -o stat,pid,cmd -C sshd), restart it");
    return c;
}

Cause build_handshake_incomplete(const CauseContext& ctx) {
    Cause c = ctx.start();
    c.summary = fmt::format("SYN-ACKs from {} get no ACK back", ctx.target);
    ctx.add_details(c);
    c.fix.push_back("check the return path to the client (asymmetric routing, a client-side firewall)");
    return c;
}

Cause build_unanswered(const CauseContext& ctx) {
    Cause c = ctx.start();
    c.summary = fmt::format("SYNs to {} got no answer that synwhy could see", ctx.target);
    ctx.add_details(c);
    append(c.evidence, listener_evidence(ctx.host, ctx.port));
    return c;
}

}  // namespace synwhy
