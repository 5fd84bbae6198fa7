// `synwhy probe`: run on the client, without root if need be; no BPF session.
#include <iostream>

#include "cli/options.h"
#include "probe/probe.h"
#include "probe/render.h"
#include "probe/verdict.h"

namespace synwhy::cli {

int run_probe(const CaptureOptions& options) {
    const ProbeOptions& p = options.probe;
    probe::ProbeRequest q;
    q.user = p.user;
    q.host = p.host;
    q.port = p.port;
    q.config_file = p.ssh_config;
    q.family = p.family;
    q.timeout = p.timeout;
    if (!p.also_ports.empty()) q.also_ports = p.also_ports;
    probe::ProbeResult r = probe::gather(q);
    if (r.addresses.empty() && (!r.ssh.proxy_jump.empty() || !r.ssh.proxy_command.empty())) {
        // The name may only mean something at the other end of the proxy (an SSM id, a host behind
        // the bastion): nothing to probe from here but the proxy.
        std::cerr << "synwhy: probe: ssh reaches " << r.ssh.hostname << " through "
                  << (r.ssh.proxy_jump.empty() ? "ProxyCommand " + r.ssh.proxy_command : "ProxyJump " + r.ssh.proxy_jump)
                  << ", and the name has no address here: probe the first hop"
                  << (r.ssh.proxy_jump.empty() ? "" : " (synwhy probe " + r.ssh.proxy_jump.substr(0, r.ssh.proxy_jump.find(',')) + ")")
                  << ", or run synwhy report on the host\n";
        return exit_cannot_trace;
    }
    if (r.addresses.empty()) {
        std::cerr << "synwhy: probe: " << r.ssh.hostname << " resolves to no address"
                  << (r.resolution.error.empty() ? "" : " (" + r.resolution.error + ")")
                  << (r.ssh.address_family == "any" ? "" : " of addressfamily " + r.ssh.address_family)
                  << ": ssh says \"Could not resolve hostname\"; check: getent ahosts " << r.ssh.hostname << "\n";
        return exit_cannot_trace;
    }
    probe::Verdict v = probe::decide(r);
    std::cout << (options.json ? probe::render_json(r, v) : probe::render_text(r, v));
    return v.code == "reachable" ? exit_ok : exit_failure_found;
}

}  // namespace synwhy::cli
