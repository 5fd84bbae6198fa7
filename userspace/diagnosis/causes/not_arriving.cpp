// No SYN arrived at all: what this host's addresses are, what the client's name resolves to,
// and which other ports clients knocked on instead.
#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"

namespace synwhy {

using namespace detail;

Cause build_not_arriving(const CauseContext& ctx) {
    Cause c = ctx.start();
    const HostSnapshot* host = ctx.host;
    c.summary = fmt::format("no SYN to port {} reached this host during the capture", ctx.port);
    if (host) {
        std::vector<std::string> addrs;
        for (const auto& a : host->addresses)
            if (!a.is_loopback()) addrs.push_back(a.str());
        c.evidence.push_back("this host's addresses: " + (addrs.empty() ? std::string("none") : join(addrs, ", ")));
    }
    append(c.evidence, listener_evidence(host, ctx.port));
    c.fix.push_back("check the address the client connects to (ssh -v prints it) against this host's addresses");
    c.fix.push_back("check DNS (getent ahosts NAME), upstream and cloud firewalls (security groups), the client's network");
    return c;
}

namespace {

// A SYN from this host itself (loopback, or a local process using one of its addresses) says
// nothing about a remote client: a database client on 127.0.0.1:5432 is not "the client uses
// another port".
bool from_another_host(const IpAddr& src, const HostSnapshot* host) {
    if (src.is_loopback()) return false;
    return !host || std::find(host->addresses.begin(), host->addresses.end(), src) == host->addresses.end();
}

// A SYN this host only forwarded (to a container, a VM, a router's other side) says nothing of
// the client's aim at this host. Unknown when no addresses were read.
bool to_this_host(const IpAddr& dst, const HostSnapshot* host) {
    return !host || host->addresses.empty() || dst == IpAddr{} ||
           std::find(host->addresses.begin(), host->addresses.end(), dst) != host->addresses.end();
}

}  // namespace

// What not-arriving adds from the name the client uses and the SYNs that came to other ports.
void explain_not_arriving(Cause& c, const DiagnosisInput& in, const HostSnapshot* host, uint16_t port) {
    if (in.hostname) {
        const HostnameCheck& h = *in.hostname;
        if (!h.error.empty()) {
            c.evidence.push_back(fmt::format("{} does not resolve here: {}", h.name, h.error));
            c.fix.insert(c.fix.begin(), fmt::format("fix the DNS record of {} (getent ahosts {})", h.name, h.name));
        } else {
            std::vector<std::string> addrs, local;
            for (const auto& a : h.addresses) {
                addrs.push_back(a.str());
                if (host && std::find(host->addresses.begin(), host->addresses.end(), a) != host->addresses.end())
                    local.push_back(a.str());
            }
            if (local.empty()) {
                c.evidence.push_back(fmt::format("{} resolves to {}: none of them is an address of this host", h.name,
                                                 join(addrs, ", ")));
                c.fix.insert(c.fix.begin(), fmt::format("{} points elsewhere: fix its DNS record (or the client's "
                                                        "/etc/hosts) to one of this host's addresses", h.name));
            } else {
                c.evidence.push_back(fmt::format("{} resolves to {}; {} is this host's, so the SYNs are lost on the "
                                                 "way (a firewall upstream, routing)", h.name, join(addrs, ", "),
                                                 join(local, ", ")));
            }
        }
    }
    std::vector<OtherPortSyn> others = in.other_port_syns;
    std::sort(others.begin(), others.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    size_t shown = 0;
    for (const auto& o : others) {
        if (host && o.netns != host->netns) continue;
        if (!from_another_host(o.src, host) || !to_this_host(o.dst, host)) continue;
        if (shown++ == 5) break;
        c.evidence.push_back(fmt::format("SYN{} from {} arrived on port {} instead", o.count == 1 ? "" : "s",
                                         o.src.str(), o.dport));
        if (shown == 1)
            c.fix.insert(c.fix.begin(), fmt::format("the client {} connects to port {}, not {}: check its -p or the "
                                                    "Port in its ~/.ssh/config", o.src.str(), o.dport, port));
    }
}

}  // namespace synwhy
