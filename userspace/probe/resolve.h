// The addresses ssh would try, in its order (getaddrinfo, as ssh calls it), and DNS's own answer
// to compare with (/etc/hosts or another NSS source may override DNS).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probe/model.h"

namespace synwhy::probe {

// "inet" -> 4, "inet6" -> 6, anything else -> 0 (both).
int family_of_address_family(const std::string& address_family);

// 4 or 6 for a numeric address, 0 otherwise.
int numeric_family(const std::string& addr);

// The A (type 1) and AAAA (type 28) addresses in a DNS response message, numeric, in answer order.
// Malformed or truncated messages give what was read before the damage.
std::vector<std::string> parse_dns_answer(const std::vector<uint8_t>& message);

// The first line of an /etc/hosts text that names host (canonical name or alias, case-insensitive):
// its number and address. nullopt when none does.
std::optional<std::pair<int, std::string>> find_hosts_line(const std::string& hosts_text, const std::string& host);

// getaddrinfo as ssh calls it (SOCK_STREAM, the family of AddressFamily), then A and AAAA from the
// resolvers of /etc/resolv.conf, and the /etc/hosts line naming the host.
Resolution resolve(const std::string& hostname, const std::string& address_family);

}  // namespace synwhy::probe
