// What ssh would do: the effective settings of `ssh -G`, and the config line that set the port.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/model.h"

namespace synwhy::probe {

// Reads `ssh -G` output ("key value" lines): hostname, port, addressfamily, proxyjump, proxycommand, user.
SshSettings parse_ssh_g(const std::string& output);

// The first "Port" line of one ssh_config text that applies to `host` (as typed, before HostName):
// outside any Host/Match block, or in a Host block whose patterns match. nullopt when none does.
// Match blocks other than "Match all" are not evaluated (they are skipped).
// The line that set the port ssh uses (effective_port, from ssh -G): the first Port line of a
// block that applies, when it says that port and no Match or Include came before it (ssh may
// have set it there); nullopt when not known for sure.
std::optional<PortOrigin> find_port_line(const std::string& config_text, const std::string& file, const std::string& host,
                                         uint16_t effective_port);

// Whether an ssh Host line's patterns ("*.example !bad.example other") match host.
bool host_patterns_match(const std::string& patterns, const std::string& host);

// Runs `ssh -G [-F config_file] [-p port] [-l user] host` and fills port_origin from the command
// line, or from the config files ssh reads (config_file, else ~/.ssh/config then /etc/ssh/ssh_config).
SshSettings read_ssh_settings(const std::string& host, const std::string& user, std::optional<uint16_t> port,
                              const std::string& config_file);

}  // namespace synwhy::probe
