#include "diagnosis/owners/flow_owner.h"

#include "diagnosis/diagnose.h"
#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/rule_owners.h"
#include "diagnosis/owners/ssh_units.h"

namespace synwhy {

namespace {

// Nothing holds the port: the unit that should, when sshd is expected there.
std::string missing_listener_owner(const Flow& flow, const HostSnapshot* host) {
    if (!host || !sshd_expected_on(host, flow.dport)) return "";
    SshUnits units = ssh_units_of(host);
    // The socket unit when it is the one in charge (listening, or enabled to), else the service.
    const SystemdUnit* socket = socket_unit_on(host, flow.dst, flow.dport);
    if (socket && (socket->active_state != "inactive" || socket->unit_file_state == "enabled")) return unit_id(*socket);
    if (units.service) return unit_id(*units.service);
    return "sshd";
}

}  // namespace

std::string flow_owner(const Flow& flow, const HostSnapshot* host) {
    if (flow.rule) {
        auto owners = owners_of(*flow.rule, host);
        return owners.empty() ? "" : owners.front()->name;
    }
    const std::string& v = flow.verdict;
    // Nothing (or the wrong thing) listens where clients come: the unit that should listen there.
    if (v == cause::no_listener || v == cause::listening_elsewhere || v == cause::bound_other_address)
        return missing_listener_owner(flow, host);
    // The listener took part: whoever holds the port.
    if (v == cause::accepted || v == cause::not_sshd || v == cause::sshd_failing || v == cause::listen_overflow ||
        v == cause::handshake_incomplete || v == cause::unanswered) {
        ServedBy served = served_by(host, nullptr, flow.dst, flow.dport);
        return served.listener ? served.owner.name : "";
    }
    // A drop whose rule is not known (--passive, --all-netns, no trace) is nobody's that we know:
    // never the listener's, which had no part in it.
    return "";
}

}  // namespace synwhy
