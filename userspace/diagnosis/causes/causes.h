// Causes: one per group of flows that share a verdict (and namespace, port and rule), each with
// its summary, evidence and fix. One builder per cause code; build_cause picks it from a table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnosis/diagnose.h"

namespace synwhy {

// What every builder starts from: the group's flows and evidence, the host they arrived on.
struct CauseContext {
    CauseContext(const std::string& code, const std::vector<const Flow*>& flows,
                 const std::vector<const FlowEvidence*>& evidence, const std::vector<HostSnapshot>& hosts,
                 uint16_t default_port, const std::vector<uint16_t>& watched);

    // Copies, not references: a context may be built from temporaries (not-arriving has no flows).
    std::string code;
    std::vector<const Flow*> flows;
    std::vector<const FlowEvidence*> evidence;  // the flows' folded events, in the same order
    std::vector<uint16_t> watched;              // the ports being watched
    const Flow* first = nullptr;          // flows.front(); nullptr for not-arriving
    const HostSnapshot* host = nullptr;   // the first flow's namespace, or the default
    uint16_t port = 0;                    // the first flow's port, or the default
    uint64_t syns = 0;
    std::vector<std::string> clients;     // client addresses, sorted, once each
    std::string target;                   // "192.0.2.2:22, [2001:db8::2]:22"
    const HostSnapshot* at_start = nullptr;  // the namespace's snapshot from before the SYNs, if one

    // A cause of this code over these flows, with the count line as its first evidence.
    Cause start() const;
    // Up to three of the flows' distinct details, as evidence.
    void add_details(Cause& c) const;
    // The first firewall rule a flow was attributed to.
    std::optional<FirewallRule> first_rule() const;
};

using CauseBuilder = Cause (*)(const CauseContext&);

Cause build_accepted(const CauseContext& ctx);
Cause build_no_listener(const CauseContext& ctx);
Cause build_listening_elsewhere(const CauseContext& ctx);
Cause build_bound_other_address(const CauseContext& ctx);
Cause build_other_netns(const CauseContext& ctx);
Cause build_dnat_refused(const CauseContext& ctx);  // causes/nat.cpp
Cause build_firewall_block(const CauseContext& ctx);  // firewall-drop and firewall-reject
Cause build_reply_dropped(const CauseContext& ctx);
Cause build_not_arriving(const CauseContext& ctx);
Cause build_kernel_drop(const CauseContext& ctx);
Cause build_handshake_incomplete(const CauseContext& ctx);
Cause build_listen_overflow(const CauseContext& ctx);
Cause build_sshd_failing(const CauseContext& ctx);
Cause build_not_sshd(const CauseContext& ctx);
Cause build_unanswered(const CauseContext& ctx);  // also any code without a builder

// Cause code -> its builder.
const std::map<std::string_view, CauseBuilder>& cause_builders();

Cause build_cause(const CauseContext& ctx);

// What not-arriving adds from the name the client uses and the SYNs that came to other ports.
void explain_not_arriving(Cause& c, const DiagnosisInput& in, const HostSnapshot* host, uint16_t port);

}  // namespace synwhy
