// Handshakes that completed: TCP is fine, whatever fails comes after.
#include <fmt/format.h>

#include "diagnosis/causes/causes.h"
#include "diagnosis/describe.h"

namespace synwhy {

Cause build_accepted(const CauseContext& ctx) {
    Cause c = ctx.start();
    c.summary = fmt::format("{} to {} completed the TCP handshake",
                            detail::plural(c.flows, "connection", "connections"), ctx.target);
    ctx.add_details(c);
    c.evidence.push_back("TCP is fine: if the client still fails, look after the handshake "
                         "(authentication, MaxStartups, the banner; ssh -v)");
    return c;
}

}  // namespace synwhy
