#include "probe/probe.h"

#include <algorithm>
#include <memory>

#include "probe/answer_capture.h"
#include "probe/handshake.h"
#include "probe/resolve.h"
#include "probe/ssh_config.h"

namespace synwhy::probe {

namespace {

SshSettings settings_for(const ProbeRequest& q) {
    SshSettings s = read_ssh_settings(q.host, q.user, q.port, q.config_file);
    if (!s.known) {  // no ssh client, or a config it refuses: what ssh would do by default
        s.hostname = q.host;
        s.port = q.port.value_or(22);
        s.port_origin.how = q.port ? "command line" : "default";
    }
    if (q.family) s.address_family = q.family == 4 ? "inet" : "inet6";
    return s;
}

// Bounded: each address costs up to --timeout plus a few seconds, and a name with many silent
// addresses must not keep the probe for minutes.
constexpr size_t max_probed_addresses = 6;

// ssh's addresses in its order, then those only DNS gives (the host's resolver overrides them).
std::vector<AddressProbe> addresses_to_try(const Resolution& res, size_t& not_probed) {
    std::vector<AddressProbe> out;
    for (const auto& a : res.nss) out.push_back({a, numeric_family(a), Source::nss, {}, {}, {}});
    // DNS's own addresses count only when something overrides it here (/etc/hosts names the host,
    // or the two answers share nothing): round-robin DNS gives each query another subset.
    const bool overridden = !res.hosts_file.empty() ||
                            std::none_of(res.dns.begin(), res.dns.end(), [&](const std::string& a) {
                                return std::find(res.nss.begin(), res.nss.end(), a) != res.nss.end();
                            });
    for (const auto& a : res.dns)
        if (overridden && std::find(res.nss.begin(), res.nss.end(), a) == res.nss.end())
            out.push_back({a, numeric_family(a), Source::dns_only, {}, {}, {}});
    not_probed = out.size() > max_probed_addresses ? out.size() - max_probed_addresses : 0;
    if (not_probed) out.resize(max_probed_addresses);
    return out;
}

// ssh's port did not answer SSH: the other ports say whether the host is up, and give the TTL
// of the host's own answers (to tell a RST forged in the path).
void probe_more_ports(const ProbeRequest& q, uint16_t ssh_port, AnswerCapture* capture, AddressProbe& a) {
    // One SYN per other port: the wait ends before the kernel's first retransmission (1 s).
    HandshakeLimits quick{std::min(q.timeout, std::chrono::milliseconds(900)), 1, std::chrono::milliseconds(0)};
    if (a.ssh.answer == Answer::rst || a.ssh.answer == Answer::none)
        for (uint16_t port : q.also_ports)
            if (port != ssh_port) a.also.push_back(run_handshake(a.addr, a.family, port, quick, capture));
    if (ssh_port != 22) {
        quick = {std::min(q.timeout, std::chrono::milliseconds(2000)), 1, std::chrono::milliseconds(2000)};
        a.default_port = run_handshake(a.addr, a.family, 22, quick, capture);
    }
}

}  // namespace

ProbeResult gather(const ProbeRequest& q) {
    ProbeResult r;
    r.host = q.host;
    r.user = q.user;
    r.target = q.user.empty() ? q.host : q.user + "@" + q.host;
    r.config_file = q.config_file;
    r.command_line_port = q.port;
    r.ssh = settings_for(q);
    r.resolution = resolve(r.ssh.hostname, r.ssh.address_family);
    r.addresses = addresses_to_try(r.resolution, r.addresses_not_probed);
    std::unique_ptr<AnswerCapture> capture = AnswerCapture::open(r.capture_note);
    r.saw_packets = capture != nullptr;
    HandshakeLimits limits{q.timeout, 2, std::chrono::milliseconds(2000)};
    for (auto& a : r.addresses) {
        a.ssh = run_handshake(a.addr, a.family, r.ssh.port, limits, capture.get());
        if (a.ssh.answer != Answer::syn_ack || a.ssh.banner != Banner::ssh)
            probe_more_ports(q, r.ssh.port, capture.get(), a);
    }
    return r;
}

}  // namespace synwhy::probe
