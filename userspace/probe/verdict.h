// The decision of `synwhy probe`: a pure function from what was learned (ProbeResult) to the verdict,
// its evidence and the commands to run next. No I/O: unit-tested with hand-made results.
#pragma once

#include <string>

#include "probe/model.h"

namespace synwhy::probe {

// "198.51.100.66:22", "[2001:db8::2]:22".
std::string endpoint(const std::string& addr, int family, uint16_t port);

// "port unreachable", "admin prohibited", ... for an ICMP (family 4) or ICMPv6 (family 6) error.
std::string icmp_name(int family, int type, int code);

// Whether an ICMP error says "no way there" (net/host unreachable, no route, address unreachable).
bool icmp_is_unreachable_route(int family, int type, int code);

// What one address's answers mean, on their own.
AddressVerdict classify_address(const AddressProbe& a);

// The whole verdict: the addresses in ssh's order, the DNS-only ones, the port ssh's config chose.
Verdict decide(const ProbeResult& r);

}  // namespace synwhy::probe
