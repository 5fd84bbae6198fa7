// What systemd's ssh units say and the commands that fix them: the one place that knows their
// names per distribution, their states, the journal's words for their failures, and socket
// activation's rules (whose ListenStream decides the port, which generator rewrites it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diagnosis/model.h"

namespace synwhy {

// sshd's unit names, whatever the distribution calls them (Debian ssh.*, Fedora sshd.*, the
// Accept=yes templates ssh@.service / sshd@.service).
bool is_ssh_service_name(const std::string& name);
bool is_ssh_socket_name(const std::string& name);
// A socket unit that starts sshd: named so, or triggering one of sshd's services.
bool socket_serves_sshd(const SystemdUnit& socket);

std::string unit_id(const SystemdUnit& u);  // the unit's own name (`name` when the probe set no id)
// "ssh.service (also sshd.service)": the unit and its aliases, once.
std::string unit_with_aliases(const SystemdUnit& u);
// "ssh.service (also sshd.service): inactive (dead), enabled, result success"
std::string unit_state_line(const SystemdUnit& u);
// "journal: 12:03:04 message" (local time, as the renderers print times).
std::string journal_evidence(const JournalLine& line);

// The ssh units of a snapshot: the service in charge and the socket that may start it.
struct SshUnits {
    const SystemdUnit* service = nullptr;  // ssh.service or sshd.service (aliases folded by the probe)
    const SystemdUnit* socket = nullptr;   // ssh.socket or sshd.socket
    std::string typed;                     // what people type: "ssh", "sshd"
    std::string service_id;                // "ssh.service", "sshd.service"
};
SshUnits ssh_units_of(const HostSnapshot* host);

// A socket unit of the snapshot listening on `port` (at `addr` when it says so), nullptr if none.
const SystemdUnit* socket_unit_on(const HostSnapshot* host, const IpAddr& addr, uint16_t port);
// Ports of a socket unit's ListenStream entries ("[::]:22", "0.0.0.0:22", "22", "*:22").
std::vector<uint16_t> listen_ports(const SystemdUnit& socket);
// Whether sshd is where clients expect it on `port`: 22, one of sshd_config's ports, or an ssh
// socket's ListenStream port.
bool sshd_expected_on(const HostSnapshot* host, uint16_t port);

// An sshd_config error ("/etc/ssh/sshd_config line 123: Bad configuration option: X"), from
// `sshd -t` or else from the service's journal since its last start: only sshd's words about the
// file ("PATH: line N: ...", or text that starts with its path). A missing privilege separation
// directory (a stopped ssh.service) is never one, nor are missing host keys (see SshdCheckError).
struct ConfigError {
    std::string text;           // "PATH line N: MESSAGE", or "PATH: MESSAGE"
    std::string path;           // the config file
    const JournalLine* journal = nullptr;  // the line it was quoted from, if from the journal
};
std::optional<ConfigError> sshd_config_error(const HostSnapshot* host);
bool is_missing_privsep_dir(const std::string& sshd_error);

// sshd -t failing for a reason other than its file ("sshd: no hostkeys available -- exiting.",
// "Privilege separation user sshd does not exist"): the file is fine, the fix is elsewhere. From
// `sshd -t`, or from the service's journal (the known kinds only) when sshd -t could not tell.
struct SshdCheckError {
    enum class Kind { host_keys, privsep_user, other };
    Kind kind = Kind::other;
    std::string text;         // sshd's words
    std::string config_path;  // the file sshd -t was given
    const JournalLine* journal = nullptr;  // the line it was quoted from, if from the journal
};
std::optional<SshdCheckError> sshd_check_error(const HostSnapshot* host);

// Whether the service fails to start: failed, a result other than success, failed starts in its
// journal, or a config error that every start trips on.
bool ssh_service_failing(const HostSnapshot* host, const SshUnits& units);
// Why, in a few words: the config error, the journal's line, or the state.
std::string why_ssh_service_fails(const HostSnapshot* host, const SshUnits& units);

// Evidence: each ssh unit's state once, then up to three journal lines that explain it.
std::vector<std::string> ssh_units_evidence(const HostSnapshot* host);

// The fix when nothing listens for sshd: by the units' state, first rule that matches.
std::vector<std::string> start_sshd_fix(const HostSnapshot* host);
// The fix when a handshake completes at the socket but every start of the service fails.
std::vector<std::string> failing_service_fix(const HostSnapshot* host, const SystemdUnit& socket);

// The command that makes sshd take its config again, or start where it could not: the socket
// under socket activation (stopping the service first, or systemd refuses), the unit, or by hand
// without systemd.
std::string restart_sshd_command(const HostSnapshot* host);

// Under socket activation the socket listens on socket_port while clients come to client_port.
struct SocketPortMismatch {
    const SystemdUnit* socket = nullptr;
    uint16_t client_port = 0, socket_port = 0;
    std::string client_address;  // the address clients connect to, for `ssh -p`
};
std::vector<std::string> socket_port_evidence(const HostSnapshot* host, const SocketPortMismatch& m);
std::vector<std::string> socket_port_fix(const HostSnapshot* host, const SocketPortMismatch& m);
// Under socket activation the socket's ListenStream decides the addresses too: the fix that makes
// it listen on every address of `port` (v6only: an IPv6-only socket that IPv4 clients miss).
std::vector<std::string> socket_address_fix(const HostSnapshot* host, const SystemdUnit& socket, uint16_t port,
                                            bool v6only);

}  // namespace synwhy
