#include "diagnosis/owners/ssh_units.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "diagnosis/describe.h"

namespace synwhy {

namespace {

using detail::append;
using detail::join;

constexpr std::array<std::string_view, 4> ssh_service_names = {"ssh.service", "sshd.service", "ssh@.service",
                                                                "sshd@.service"};
constexpr std::array<std::string_view, 2> ssh_socket_names = {"ssh.socket", "sshd.socket"};

// Distributions whose unit is sshd.service (by /etc/os-release ID), when no unit was read.
constexpr std::array<std::string_view, 9> sshd_named_distributions = {
    "fedora", "rhel", "centos", "rocky", "almalinux", "ol", "arch", "opensuse-leap", "opensuse-tumbleweed"};

// The journal's words for why sshd's unit did not start, most telling first.
// (sshd's "PATH: line N: ..." config errors come before all of them.)
constexpr std::array<std::string_view, 7> journal_signs = {
    "Bind to port",
    "Cannot bind any address",
    "Main process exited",
    "Control process exited",
    "Start request repeated too quickly",
    "Failed with result",
    "Failed to start",
};

constexpr std::string_view start_limit_words = "Start request repeated too quickly";

using detail::contains;

std::optional<uint16_t> to_port(std::string_view digits) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535) return std::nullopt;
    return static_cast<uint16_t>(value);
}

// A ListenStream entry: (address, port); address "" for any.
std::optional<std::pair<std::string, uint16_t>> parse_listen(const std::string& entry) {
    std::string_view s = entry;
    if (s.empty()) return std::nullopt;
    if (s.front() == '[') {
        size_t close = s.find("]:");
        if (close == std::string_view::npos) return std::nullopt;
        auto port = to_port(s.substr(close + 2));
        if (!port) return std::nullopt;
        return std::pair{std::string(s.substr(1, close - 1)), *port};
    }
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
        auto port = to_port(s);
        return port ? std::optional(std::pair{std::string(), *port}) : std::nullopt;
    }
    auto port = to_port(s.substr(colon + 1));
    if (!port) return std::nullopt;
    std::string addr(s.substr(0, colon));
    return std::pair{addr == "*" ? std::string() : addr, *port};
}

bool listen_address_matches(const std::string& listen_addr, const IpAddr& addr) {
    std::string a = listen_addr.substr(0, listen_addr.find('%'));  // "fe80::1%eth0"
    if (a.empty() || a == "::" || a == "0.0.0.0") return addr.is_unspecified();
    auto parsed = IpAddr::parse(a);
    return parsed && *parsed == addr;
}

bool is_masked(const SystemdUnit* u) { return u && (u->load_state == "masked" || u->unit_file_state == "masked"); }
bool is_failed(const SystemdUnit* u) { return u && u->active_state == "failed"; }
bool is_active(const SystemdUnit* u) { return u && (u->active_state == "active" || u->active_state == "activating"); }
bool starts_at_boot(const SystemdUnit* u) {
    return u && (u->unit_file_state.starts_with("enabled") || u->unit_file_state == "static" ||
                 u->unit_file_state == "generated" || u->unit_file_state == "alias");
}
bool bad_result(const SystemdUnit* u) { return u && !u->result.empty() && u->result != "success"; }
// A start job queued behind other jobs (not yet running): systemd starts the unit by itself once
// they are done; `systemctl start` would only join the queue.
bool start_job_queued(const SystemdUnit* u) {
    bool starts = u && (u->job_type == "start" || u->job_type == "restart" || u->job_type == "reload-or-start");
    return starts && u->job_state != "running";
}

// The jobs a unit's job waits on, the running ones first: they are what holds it now.
std::vector<std::string> waits_running_first(const SystemdUnit& u) {
    std::vector<std::string> waits = u.waiting_for;
    std::stable_partition(waits.begin(), waits.end(),
                          [](const std::string& w) { return w.ends_with("running)"); });
    return waits;
}

// The unit of a waiting_for entry ("cloud-init.service (start, running)"), "" for a bare job id.
std::string waited_unit(const std::string& entry) {
    std::string unit = entry.substr(0, entry.find(' '));
    return unit.find('.') == std::string::npos ? "" : unit;
}

// "ssh.service: start job queued (waiting) behind cloud-init.service (start, running)"
std::string job_evidence(const SystemdUnit& u) {
    std::string line = u.job_state == "running"
                           ? fmt::format("{}: {} job running", unit_id(u), u.job_type)
                           : fmt::format("{}: {} job queued ({})", unit_id(u), u.job_type,
                                         u.job_state.empty() ? "state unknown" : u.job_state);
    if (!u.waiting_for.empty()) line += " behind " + join(waits_running_first(u), ", ");
    return line;
}

// Journal lines since the unit last started well: older ones tell of a state it has left (a
// lab or an admin may have broken and repaired it several times this boot).
std::vector<const JournalLine*> recent_journal(const SystemdUnit* u) {
    std::vector<const JournalLine*> out;
    if (!u) return out;
    for (const auto& line : u->journal) {
        if (line.message.starts_with("Started ") || line.message.starts_with("Listening on ")) out.clear();
        else out.push_back(&line);
    }
    return out;
}

const JournalLine* journal_with(const SystemdUnit* u, std::string_view words) {
    for (const JournalLine* line : recent_journal(u))
        if (contains(line->message, words)) return line;
    return nullptr;
}

// "PATH: line N: MESSAGE" (sshd's wording) or "PATH line N: MESSAGE" -> "PATH line N: MESSAGE".
std::optional<std::pair<std::string, std::string>> parse_config_line(std::string_view text) {
    size_t at = text.find(" line ");
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    std::string_view path = text.substr(0, at);
    if (path.back() == ':') path.remove_suffix(1);
    if (path.empty() || path.front() != '/' || contains(path, " ")) return std::nullopt;
    std::string_view rest = text.substr(at + 6);
    size_t colon = rest.find(": ");
    if (colon == std::string_view::npos || !to_port(rest.substr(0, colon))) return std::nullopt;  // a number
    return std::pair{std::string(path), fmt::format("{} line {}", path, rest)};
}

std::string typed_name_of(const SystemdUnit* service, const HostSnapshot* host) {
    if (service) {
        std::string id = unit_id(*service);
        return id.ends_with(".service") ? id.substr(0, id.size() - 8) : id;
    }
    bool sshd_named = host && std::find(sshd_named_distributions.begin(), sshd_named_distributions.end(),
                                        host->os_id) != sshd_named_distributions.end();
    return sshd_named ? "sshd" : "ssh";
}

std::string default_config(const HostSnapshot* host) {
    return host && !host->sshd_configs.empty() ? host->sshd_configs.front().config_path : "/etc/ssh/sshd_config";
}

// ---- The no-listener fix: what the units' state needs to get sshd listening. ----

struct SshState {
    const HostSnapshot* host = nullptr;
    SshUnits units;
    std::optional<ConfigError> config_error;
    // ssh.socket starts at boot while the service does not: systemd listens and starts sshd (Ubuntu
    // >= 22.10). A masked service counts as "does not": the masked row is checked before this one.
    bool activated_by_socket = false;
    bool start_limit_hit = false;
    const SystemdUnit* queued_start = nullptr;  // the service, else the socket, with a start job queued
};

SshState ssh_state_of(const HostSnapshot* host) {
    SshState s;
    s.host = host;
    s.units = ssh_units_of(host);
    s.config_error = sshd_config_error(host);
    const SystemdUnit* service = s.units.service;
    s.activated_by_socket = s.units.socket && starts_at_boot(s.units.socket) && !starts_at_boot(service);
    s.start_limit_hit = service && (service->result == "start-limit-hit" || journal_with(service, start_limit_words));
    if (start_job_queued(service)) s.queued_start = service;
    else if (start_job_queued(s.units.socket)) s.queued_start = s.units.socket;
    return s;
}

// A start job waits (behind cloud-init.service on a cloud VM): show what holds it. Cancelling the
// job or killing what it waits on could break the boot, so neither is suggested.
std::vector<std::string> queued_start_commands(const SshState& s) {
    const SystemdUnit& u = *s.queued_start;
    std::vector<std::string> waits = waits_running_first(u);
    auto first = std::find_if(waits.begin(), waits.end(), [](const std::string& w) { return !waited_unit(w).empty(); });
    if (first == waits.end()) return {"systemctl list-jobs"};
    return {fmt::format("{} is waiting to start: it waits for {}; see what holds it: systemctl list-jobs", unit_id(u),
                        join(waits, ", ")),
            "systemctl status " + waited_unit(*first)};
}

// sshd started by hand, where no systemd runs.
std::string manual_start_command(const HostSnapshot* host) {
    std::string config = default_config(host);
    return config == "/etc/ssh/sshd_config" ? "start sshd: /usr/sbin/sshd"
                                            : fmt::format("start sshd: /usr/sbin/sshd -f {}", config);
}

// Under socket activation the socket is what gets sshd listening: (re)start it, failed units reset.
std::vector<std::string> socket_start_commands(const SshState& s) {
    std::string socket = unit_id(*s.units.socket);
    std::vector<std::string> failed;
    if (is_failed(s.units.service)) failed.push_back(s.units.service_id);
    if (is_failed(s.units.socket)) failed.push_back(socket);
    std::string start = is_active(s.units.socket) ? "restart" : "start";
    if (failed.empty()) return {fmt::format("systemctl {} {}", start, socket)};
    return {fmt::format("systemctl reset-failed {} && systemctl {} {}", join(failed, " "), start, socket)};
}

// Commands that start sshd from the state its units are in, one table row per state; the first
// row that matches is the fix.
struct StartRule {
    const char* state;
    bool (*matches)(const SshState&);
    std::vector<std::string> (*commands)(const SshState&);
};

const std::array<StartRule, 9> start_rules = {{
    {"no systemd", [](const SshState& s) { return !s.host || !s.host->systemd_running; },
     [](const SshState& s) { return std::vector<std::string>{manual_start_command(s.host)}; }},
    // Before socket activation: the socket cannot start a masked service either (it accepts, then
    // pid 1 refuses the start). Unmask, then start whichever starts sshd.
    {"masked", [](const SshState& s) { return is_masked(s.units.service); },
     [](const SshState& s) {
         std::vector<std::string> fix{"systemctl unmask " + s.units.typed};
         if (s.activated_by_socket) append(fix, socket_start_commands(s));
         else fix.push_back("systemctl enable --now " + s.units.typed);
         return fix;
     }},
    {"start limit hit", [](const SshState& s) { return !s.activated_by_socket && s.start_limit_hit; },
     [](const SshState& s) {
         return std::vector<std::string>{
             fmt::format("systemctl reset-failed {} && systemctl start {}", s.units.typed, s.units.typed)};
     }},
    {"start job queued", [](const SshState& s) { return s.queued_start != nullptr; }, queued_start_commands},
    {"socket activation", [](const SshState& s) { return s.activated_by_socket; }, socket_start_commands},
    // A crash loop (Restart= brings it back, it dies again): another restart is no fix; why it dies is.
    {"restarting", [](const SshState& s) {
         return s.units.service && s.units.service->active_state == "activating" &&
                s.units.service->sub_state == "auto-restart";
     },
     [](const SshState& s) {
         return std::vector<std::string>{fmt::format(
             "{} keeps dying and being restarted: see why in its journal: journalctl -b -u {} -n 30",
             s.units.service_id, s.units.service_id)};
     }},
    // Running, yet nothing listens where the SYN went: restart it to take its config again.
    {"running", [](const SshState& s) { return is_active(s.units.service); },
     [](const SshState& s) { return std::vector<std::string>{"systemctl restart " + s.units.typed}; }},
    {"enabled, not running", [](const SshState& s) { return starts_at_boot(s.units.service); },
     [](const SshState& s) { return std::vector<std::string>{"systemctl start " + s.units.typed}; }},
    {"disabled", [](const SshState&) { return true; },
     [](const SshState& s) { return std::vector<std::string>{"systemctl enable --now " + s.units.typed}; }},
}};

std::vector<std::string> start_commands(const SshState& s) {
    for (const auto& rule : start_rules)
        if (rule.matches(s)) return rule.commands(s);
    return {};
}

// Something to repair before a start can succeed, then the start itself.
std::vector<std::string> repair_then_start(std::vector<std::string> repair, const SshState& s) {
    if (s.queued_start) {  // the queued job starts it once repaired: nothing to start by hand
        repair.push_back(fmt::format("then: {} starts by itself when its queued start job runs (systemctl list-jobs)",
                                     unit_id(*s.queued_start)));
        return repair;
    }
    auto start = start_commands(s);
    if (!start.empty()) repair.push_back("then: " + join(start, " && "));
    return repair;
}

std::string sshd_check_command(const std::string& config_path) {
    return config_path == "/etc/ssh/sshd_config" ? "sshd -t" : "sshd -t -f " + config_path;
}

std::vector<std::string> config_error_fix(const ConfigError& e) {
    return {"fix " + e.text, "check it with: " + sshd_check_command(e.path)};
}

// sshd -t's run failed (timed out, no binary): sshd itself said nothing.
bool is_run_failure(const std::string& error) {
    return error.starts_with("sshd -") || error.starts_with("sshd is not installed");
}

// sshd's words about the file itself: "PATH: line N: ...", or text that starts with its path.
bool is_config_file_error(const SshdConfig& c) {
    return parse_config_line(c.error).has_value() || c.error.starts_with(c.config_path);
}

SshdCheckError::Kind check_error_kind(std::string_view message) {
    if (contains(message, "no hostkeys available") || contains(message, "Unable to load host key"))
        return SshdCheckError::Kind::host_keys;
    if (contains(message, "Privilege separation user") && contains(message, "does not exist"))
        return SshdCheckError::Kind::privsep_user;
    return SshdCheckError::Kind::other;
}

bool debian_family(const HostSnapshot* host) {
    return host && (host->os_id == "debian" || host->os_id == "ubuntu" || host->os_id == "raspbian");
}

// The file is fine: no edit is suggested. Unknown errors are quoted for the operator to read.
std::vector<std::string> check_error_fix(const SshdCheckError& e, const HostSnapshot* host) {
    switch (e.kind) {
    case SshdCheckError::Kind::host_keys: return {"generate the host keys: ssh-keygen -A"};
    case SshdCheckError::Kind::privsep_user:
        return {debian_family(host)
                    ? "the sshd user is missing: reinstall openssh-server: apt-get install --reinstall openssh-server"
                    : "the sshd user is missing: reinstall the OpenSSH server package (its install creates the user)"};
    case SshdCheckError::Kind::other: break;
    }
    return {fmt::format("sshd -t says: {} — inspect it: {}", e.text, sshd_check_command(e.config_path))};
}

// SELinux refuses sshd a port that is not labelled ssh_port_t: "error: Bind to port 2222 on
// 0.0.0.0 failed: Permission denied."
std::optional<uint16_t> selinux_denied_port(const SystemdUnit* service) {
    for (const JournalLine* line : recent_journal(service)) {
        std::string_view m = line->message;
        size_t at = m.find("Bind to port ");
        if (at == std::string_view::npos || !contains(m, "Permission denied")) continue;
        std::string_view rest = m.substr(at + 13);
        if (auto port = to_port(rest.substr(0, rest.find(' ')))) return port;
    }
    return std::nullopt;
}

// Up to three journal lines that say why, in the order they were logged.
std::vector<const JournalLine*> telling_lines(const SystemdUnit* u) {
    auto recent = recent_journal(u);
    std::vector<const JournalLine*> chosen;
    auto take = [&](auto&& matches) {
        for (const JournalLine* line : recent)
            if (chosen.size() < 3 && matches(*line) && std::find(chosen.begin(), chosen.end(), line) == chosen.end()) {
                chosen.push_back(line);
                return;
            }
    };
    take([](const JournalLine& l) { return parse_config_line(l.message).has_value(); });
    for (std::string_view sign : journal_signs) take([&](const JournalLine& l) { return contains(l.message, sign); });
    std::sort(chosen.begin(), chosen.end());  // pointers into one vector: the journal's order
    return chosen;
}

}  // namespace

bool is_ssh_service_name(const std::string& name) {
    return std::find(ssh_service_names.begin(), ssh_service_names.end(), name) != ssh_service_names.end();
}

bool is_ssh_socket_name(const std::string& name) {
    return std::find(ssh_socket_names.begin(), ssh_socket_names.end(), name) != ssh_socket_names.end();
}

bool socket_serves_sshd(const SystemdUnit& socket) {
    if (is_ssh_socket_name(unit_id(socket))) return true;
    return std::any_of(socket.triggers.begin(), socket.triggers.end(), is_ssh_service_name);
}

std::string unit_id(const SystemdUnit& u) { return u.id.empty() ? u.name : u.id; }

std::string unit_with_aliases(const SystemdUnit& u) {
    std::string id = unit_id(u);
    std::vector<std::string> others;
    for (const auto& a : u.aliases)
        if (a != id) others.push_back(a);
    return others.empty() ? id : fmt::format("{} (also {})", id, join(others, ", "));
}

std::string unit_state_line(const SystemdUnit& u) {
    std::string line = fmt::format("{}: {} ({}), {}", unit_with_aliases(u), u.active_state, u.sub_state,
                                   u.unit_file_state.empty() ? "unit file state unknown" : u.unit_file_state);
    if (!u.result.empty()) line += ", result " + u.result;
    return line;
}

std::string journal_evidence(const JournalLine& line) {
    return fmt::format("journal: {} {}", line.ts_ns ? detail::clock_time(line.ts_ns / 1000000000ull) : "??:??:??",
                       line.message);
}

SshUnits ssh_units_of(const HostSnapshot* host) {
    SshUnits out;
    if (host) {
        auto named = [](const SystemdUnit& u, auto&& is_name) {
            return is_name(unit_id(u)) || std::any_of(u.aliases.begin(), u.aliases.end(), is_name);
        };
        for (const auto& u : host->units) {
            std::string id = unit_id(u);
            // A template (ssh@.service) or its per-connection instances are no service to start by name.
            bool templated = id.find('@') != std::string::npos;
            if (!out.service && !templated && id.ends_with(".service") && named(u, is_ssh_service_name)) out.service = &u;
            if (!out.socket && id.ends_with(".socket") && named(u, is_ssh_socket_name)) out.socket = &u;
        }
    }
    out.typed = typed_name_of(out.service, host);
    out.service_id = out.service ? unit_id(*out.service) : out.typed + ".service";
    return out;
}

std::vector<uint16_t> listen_ports(const SystemdUnit& socket) {
    std::vector<uint16_t> ports;
    for (const auto& entry : socket.listen)
        if (auto parsed = parse_listen(entry); parsed && std::find(ports.begin(), ports.end(), parsed->second) == ports.end())
            ports.push_back(parsed->second);
    return ports;
}

const SystemdUnit* socket_unit_on(const HostSnapshot* host, const IpAddr& addr, uint16_t port) {
    if (!host) return nullptr;
    std::vector<const SystemdUnit*> sockets;
    for (const auto& u : host->socket_units) sockets.push_back(&u);
    for (const auto& u : host->units)
        if (unit_id(u).ends_with(".socket")) sockets.push_back(&u);
    const SystemdUnit* on_port = nullptr;  // the port matches, the address is written otherwise
    for (const SystemdUnit* u : sockets)
        for (const auto& entry : u->listen) {
            auto parsed = parse_listen(entry);
            if (!parsed || parsed->second != port) continue;
            if (listen_address_matches(parsed->first, addr)) return u;
            if (!on_port) on_port = u;
        }
    return on_port;
}

bool sshd_expected_on(const HostSnapshot* host, uint16_t port) {
    if (port == 22) return true;
    if (!host) return false;
    for (const auto& c : host->sshd_configs)
        if (std::find(c.ports.begin(), c.ports.end(), port) != c.ports.end()) return true;
    for (const auto* list : {&host->units, &host->socket_units})
        for (const auto& u : *list)
            if (unit_id(u).ends_with(".socket") && socket_serves_sshd(u)) {
                auto ports = listen_ports(u);
                if (std::find(ports.begin(), ports.end(), port) != ports.end()) return true;
            }
    return false;
}

bool is_missing_privsep_dir(const std::string& sshd_error) {
    return contains(sshd_error, "Missing privilege separation directory");
}

std::optional<ConfigError> sshd_config_error(const HostSnapshot* host) {
    if (!host) return std::nullopt;
    bool checked_fine = false;
    for (const auto& c : host->sshd_configs) {
        checked_fine = checked_fine || c.ok;
        if (c.ok || c.error.empty() || is_missing_privsep_dir(c.error) || is_run_failure(c.error)) continue;
        if (auto parsed = parse_config_line(c.error)) return ConfigError{parsed->second, parsed->first, nullptr};
        if (c.error.starts_with(c.config_path)) return ConfigError{c.error, c.config_path, nullptr};
        checked_fine = true;  // sshd reads its file before it looks for keys and users: the file read well
    }
    if (checked_fine) return std::nullopt;  // the file reads well now: the journal's error is past
    SshUnits units = ssh_units_of(host);
    for (const SystemdUnit* u : {units.service, units.socket})
        for (const JournalLine* line : recent_journal(u))
            if (auto parsed = parse_config_line(line->message)) return ConfigError{parsed->second, parsed->first, line};
    return std::nullopt;
}

std::optional<SshdCheckError> sshd_check_error(const HostSnapshot* host) {
    if (!host) return std::nullopt;
    // sshd checks its user and keys before its privilege separation directory: when that is all it
    // says, they are fine.
    bool checked_fine = false;
    for (const auto& c : host->sshd_configs) {
        checked_fine = checked_fine || c.ok || is_missing_privsep_dir(c.error);
        if (c.ok || c.error.empty() || is_missing_privsep_dir(c.error) || is_run_failure(c.error) ||
            is_config_file_error(c))
            continue;
        return SshdCheckError{check_error_kind(c.error), c.error, c.config_path, nullptr};
    }
    if (checked_fine) return std::nullopt;
    // sshd -t could not tell: the service's last start may have said it (only the errors we know;
    // "Unable to load host key" alone is logged by a healthy sshd that lacks one key type).
    for (const JournalLine* line : recent_journal(ssh_units_of(host).service))
        if (auto kind = check_error_kind(line->message);
            kind != SshdCheckError::Kind::other && !contains(line->message, "Unable to load host key"))
            return SshdCheckError{kind, line->message, default_config(host), line};
    return std::nullopt;
}

bool ssh_service_failing(const HostSnapshot* host, const SshUnits& units) {
    if (sshd_config_error(host) || sshd_check_error(host)) return true;
    const SystemdUnit* service = units.service;
    if (!service) return units.socket && units.socket->result == "service-start-limit-hit";
    if (is_active(service) && !bad_result(service)) return false;
    return is_failed(service) || bad_result(service) || journal_with(service, "Failed to start") ||
           journal_with(service, "Failed with result") || journal_with(service, start_limit_words);
}

std::string why_ssh_service_fails(const HostSnapshot* host, const SshUnits& units) {
    if (auto e = sshd_config_error(host)) return e->text;
    if (auto e = sshd_check_error(host)) return e->text;
    auto lines = telling_lines(units.service);
    if (!lines.empty()) return lines.front()->message;
    if (units.service) return fmt::format("{} is {} (result {})", units.service_id, units.service->active_state,
                                          units.service->result.empty() ? "unknown" : units.service->result);
    return "its service does not start";
}

std::vector<std::string> ssh_units_evidence(const HostSnapshot* host) {
    std::vector<std::string> ev;
    if (!host) return ev;
    if (!host->systemd_running) {
        ev.push_back("systemd is not running here");
        return ev;
    }
    SshUnits units = ssh_units_of(host);
    for (const auto& u : host->units) {
        ev.push_back(unit_state_line(u));
        if (!u.job_type.empty()) ev.push_back(job_evidence(u));
    }
    std::vector<const JournalLine*> lines = telling_lines(units.service);
    for (const JournalLine* line : telling_lines(units.socket))
        if (lines.size() < 3) lines.push_back(line);
    for (const JournalLine* line : lines) ev.push_back(journal_evidence(*line));
    return ev;
}

std::vector<std::string> start_sshd_fix(const HostSnapshot* host) {
    SshState s = ssh_state_of(host);
    if (s.config_error) return repair_then_start(config_error_fix(*s.config_error), s);
    if (auto e = sshd_check_error(host)) return repair_then_start(check_error_fix(*e, host), s);
    if (auto port = selinux_denied_port(s.units.service))
        return repair_then_start({fmt::format("semanage port -a -t ssh_port_t -p tcp {}", *port)}, s);
    return start_commands(s);
}

std::vector<std::string> failing_service_fix(const HostSnapshot* host, const SystemdUnit& socket) {
    SshState s = ssh_state_of(host);
    std::string socket_id = unit_id(socket);
    std::vector<std::string> failed;
    for (const auto& t : socket.triggers)
        if (t.ends_with(".service") && !contains(t, "@.")) failed.push_back(t);  // not a template
    failed.push_back(socket_id);
    std::string restart = fmt::format("systemctl reset-failed {} && systemctl restart {}", join(failed, " "), socket_id);
    std::vector<std::string> fix;
    if (s.config_error) fix = config_error_fix(*s.config_error);
    else if (auto e = sshd_check_error(host)) fix = check_error_fix(*e, host);
    else fix.push_back(fmt::format("find why {} fails to start: journalctl -b -u {}", s.units.service_id, s.units.service_id));
    fix.push_back("then: " + restart);
    return fix;
}

std::vector<std::string> socket_port_evidence(const HostSnapshot* host, const SocketPortMismatch& m) {
    std::vector<std::string> ev;
    if (!m.socket) return ev;
    const SystemdUnit& s = *m.socket;
    std::string id = unit_id(s);
    std::string line = fmt::format("{}: ListenStream {}, Accept={}", id, join(s.listen, " "), s.accept ? "yes" : "no");
    if (!s.triggers.empty()) line += ", starts " + join(s.triggers, " ");
    ev.push_back(line);
    if (!s.drop_ins.empty()) ev.push_back(fmt::format("{} drop-ins: {}", id, join(s.drop_ins, ", ")));
    ev.push_back(fmt::format("under socket activation {}'s ListenStream decides the port, not sshd_config's Port", id));
    if (host && !host->sshd_socket_generator.empty())
        ev.push_back(fmt::format("{} rewrites {}'s ListenStream from sshd_config at daemon-reload",
                                 host->sshd_socket_generator, id));
    else
        ev.push_back(fmt::format("no generator rewrites {} from sshd_config here: its ListenStream stays as written", id));
    return ev;
}

namespace {

// The administrator's drop-ins of a unit: a vendor one (/usr/lib/...) belongs to the package
// manager, a generator's (/run/systemd/generator) is rewritten at every daemon-reload.
std::vector<std::string> admin_drop_ins(const SystemdUnit& u) {
    std::vector<std::string> own;
    for (const auto& d : u.drop_ins)
        if (d.starts_with("/etc/systemd/system/")) own.push_back(d);
    return own;
}

// What makes a socket's new ListenStream take effect. Without a generator systemd refuses to
// restart the socket while the service it started runs: stop that first.
std::string socket_reload_command(const HostSnapshot* host, const std::string& socket_id) {
    if (host && !host->sshd_socket_generator.empty())
        return fmt::format("systemctl daemon-reload && systemctl restart {}", socket_id);
    return fmt::format("systemctl daemon-reload && systemctl stop {} && systemctl restart {}",
                       ssh_units_of(host).service_id, socket_id);
}

// Where to change the socket's ListenStream from `current` to `wanted`: the administrator's own
// drop-in (a new override would sort before or after it), else a new one. Never `systemctl
// revert`: it deletes every drop-in of the unit, not only the one that moved it.
std::string listen_stream_edit(const SystemdUnit& socket, const std::string& current, const std::string& wanted) {
    std::string id = unit_id(socket);
    std::vector<std::string> own = admin_drop_ins(socket);
    if (own.size() == 1)
        return fmt::format("{} listens on {}, set in its drop-in {}: change ListenStream there to {}", id, current,
                           own.front(), wanted);
    if (own.size() > 1)
        return fmt::format("{} listens on {}, set in one of its drop-ins {}: change ListenStream to {} in the one that "
                           "sets it (grep -l ListenStream {})", id, current, join(own, ", "), wanted, join(own, " "));
    return fmt::format("systemctl edit {}: add [Socket] ListenStream= then ListenStream={} (the empty one clears {})", id,
                       wanted, current);
}

}  // namespace

std::vector<std::string> socket_port_fix(const HostSnapshot* host, const SocketPortMismatch& m) {
    if (!m.socket) return {};
    std::string id = unit_id(*m.socket);
    std::vector<uint16_t> config_ports;
    if (host)
        for (const auto& c : host->sshd_configs) config_ports.insert(config_ports.end(), c.ports.begin(), c.ports.end());
    bool config_wants_client_port = config_ports.empty() ||
        std::find(config_ports.begin(), config_ports.end(), m.client_port) != config_ports.end();
    std::string connect =
        fmt::format("connect to the port {} listens on: ssh -p {} user@{}", id, m.socket_port, m.client_address);
    std::string reload = socket_reload_command(host, id);
    if (host && !host->sshd_socket_generator.empty()) {
        // Ubuntu: the generator writes ListenStream from sshd_config's Port at daemon-reload.
        if (config_wants_client_port) return {reload, "or " + connect};
        return {fmt::format("set `Port {}` in {}, then {}", m.client_port, default_config(host), reload), "or " + connect};
    }
    std::string edit = listen_stream_edit(*m.socket, fmt::format(":{}", m.socket_port), std::to_string(m.client_port));
    if (config_wants_client_port) return {edit, "then: " + reload, "or " + connect};
    return {connect, "or " + edit, "then: " + reload};
}

std::vector<std::string> socket_address_fix(const HostSnapshot* host, const SystemdUnit& socket, uint16_t port,
                                            bool v6only) {
    std::string id = unit_id(socket);
    std::string reload = socket_reload_command(host, id);
    if (host && !host->sshd_socket_generator.empty())
        return {fmt::format("remove ListenAddress from {} (or list every address clients use), then {}: {} writes {}'s "
                            "ListenStream from it",
                            default_config(host), reload, host->sshd_socket_generator, id)};
    std::string current = socket.listen.empty() ? std::string("its address") : join(socket.listen, " ");
    std::string wanted = std::to_string(port) + (v6only ? " and BindIPv6Only=both" : "");
    return {listen_stream_edit(socket, current, wanted), "then: " + reload};
}

std::string restart_sshd_command(const HostSnapshot* host) {
    if (!host || !host->systemd_running) {
        if (host)
            for (const auto& p : host->sshd_processes)
                if (p.is_listener) return fmt::format("restart sshd: kill -HUP {}", p.pid);
        return manual_start_command(host);
    }
    SshState s = ssh_state_of(host);
    if (!s.activated_by_socket) return "systemctl restart " + s.units.typed;
    std::string socket = unit_id(*s.units.socket);
    // systemd refuses to restart the socket while the service it started runs.
    if (is_active(s.units.service)) return fmt::format("systemctl stop {} && systemctl restart {}", s.units.service_id, socket);
    return "systemctl restart " + socket;
}

}  // namespace synwhy
