#include "probe/ssh_config.h"

#include <fnmatch.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cli/options.h"
#include "host/exec.h"

namespace synwhy::probe {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// "Key value", "Key=value", "Key = value" -> {key (lower case), value}; comments and blanks -> {"", ""}.
std::pair<std::string, std::string> split_config_line(const std::string& line) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') return {};
    size_t key_end = line.find_first_of(" \t=", start);
    if (key_end == std::string::npos) return {lower(line.substr(start)), ""};
    size_t value_start = line.find_first_not_of(" \t", key_end);
    if (value_start != std::string::npos && line[value_start] == '=')
        value_start = line.find_first_not_of(" \t", value_start + 1);
    std::string value = value_start == std::string::npos ? "" : line.substr(value_start);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.pop_back();
    return {lower(line.substr(start, key_end - start)), value};
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string find_ssh_binary() {
    for (const char* p : {"/usr/bin/ssh", "/usr/local/bin/ssh", "/bin/ssh"})
        if (access(p, X_OK) == 0) return p;
    return "";
}

}  // namespace

SshSettings parse_ssh_g(const std::string& output) {
    SshSettings s;
    std::istringstream in(output);
    std::string line;
    while (std::getline(in, line)) {
        auto [key, value] = split_config_line(line);
        if (key == "hostname") s.hostname = value;
        else if (key == "user") s.user = value;
        else if (key == "addressfamily") s.address_family = lower(value);
        else if (key == "proxyjump" && value != "none") s.proxy_jump = value;
        else if (key == "proxycommand" && value != "none") s.proxy_command = value;
        else if (key == "port") {
            auto port = cli::parse_whole_number(value, 1, 65535);
            if (port) s.port = uint16_t(*port);
        }
    }
    s.known = !s.hostname.empty();
    if (!s.known) s.error = "ssh -G printed no hostname";
    return s;
}

bool host_patterns_match(const std::string& patterns, const std::string& host) {
    std::istringstream in(patterns);
    std::string pattern;
    bool matched = false;
    while (in >> pattern) {
        // "a,b" is also a list in ssh's match_pattern_list.
        std::istringstream parts(pattern);
        std::string p;
        while (std::getline(parts, p, ',')) {
            if (p.empty()) continue;
            bool negated = p[0] == '!';
            if (negated) p = p.substr(1);
            if (fnmatch(p.c_str(), host.c_str(), FNM_CASEFOLD) != 0) continue;
            if (negated) return false;  // a negated match excludes the block whatever else matches
            matched = true;
        }
    }
    return matched;
}

std::optional<PortOrigin> find_port_line(const std::string& config_text, const std::string& file,
                                         const std::string& host, uint16_t effective_port) {
    std::istringstream in(config_text);
    std::string line;
    bool applies = true;    // lines before the first Host/Match apply to every host
    bool uncertain = false;  // a Match or Include met before: ssh may have taken the port there
    for (int number = 1; std::getline(in, line); number++) {
        auto [key, value] = split_config_line(line);
        if (key == "host") applies = host_patterns_match(value, host);
        else if (key == "match") {
            applies = lower(value) == "all";
            uncertain = uncertain || !applies;
        } else if (key == "include") uncertain = true;
        else if (key == "port" && applies) {
            // ssh takes the first value it meets: this line, if it says the port ssh -G gives.
            if (uncertain || value != std::to_string(effective_port)) return std::nullopt;
            return PortOrigin{"ssh config", file, number};
        }
    }
    return std::nullopt;
}

// Under sudo, the user who ran it: ssh -G runs as them, so that their ~/.ssh/config decides as it
// does for their own ssh (as root it would read root's). 0 when not under sudo.
uid_t sudo_caller(gid_t& gid) {
    const char* uid_text = getenv("SUDO_UID");
    const char* gid_text = getenv("SUDO_GID");
    if (getuid() != 0 || !uid_text || !gid_text) return 0;
    char* end = nullptr;
    unsigned long uid = strtoul(uid_text, &end, 10);
    if (*end || uid == 0) return 0;
    unsigned long g = strtoul(gid_text, &end, 10);
    if (*end) return 0;
    gid = gid_t(g);
    return uid_t(uid);
}

SshSettings read_ssh_settings(const std::string& host, const std::string& user, std::optional<uint16_t> port,
                              const std::string& config_file) {
    std::string ssh = find_ssh_binary();
    SshSettings s;
    if (ssh.empty()) {
        s.error = "no ssh client found (/usr/bin/ssh)";
        return s;
    }
    std::vector<std::string> argv{ssh, "-G"};
    gid_t caller_gid = 0;
    const uid_t caller = sudo_caller(caller_gid);
    if (caller && access("/usr/bin/setpriv", X_OK) == 0)
        argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=" + std::to_string(caller),
                                   "--regid=" + std::to_string(caller_gid), "--init-groups", "--"});
    if (!config_file.empty()) argv.insert(argv.end(), {"-F", config_file});
    if (port) argv.insert(argv.end(), {"-p", std::to_string(*port)});
    if (!user.empty()) argv.insert(argv.end(), {"-l", user});
    argv.insert(argv.end(), {"--", host});
    host::ExecResult r = host::run_program(argv, std::chrono::seconds(5));
    if (!r.started || r.timed_out || r.exit_code != 0) {
        s.error = r.error.empty() ? "ssh -G " + host + ": " + r.err.substr(0, r.err.find('\n')) : r.error;
        return s;
    }
    s = parse_ssh_g(r.out);
    if (port) {
        s.port_origin = {"command line", "", 0};
        return s;
    }
    std::vector<std::string> files;
    if (!config_file.empty()) files.push_back(config_file);
    else {
        if (const passwd* pw = getpwuid(caller ? caller : getuid()))
            files.push_back(std::string(pw->pw_dir) + "/.ssh/config");
        files.push_back("/etc/ssh/ssh_config");
    }
    for (const auto& f : files)
        if (auto origin = find_port_line(read_text(f), f, host, s.port)) {
            s.port_origin = *origin;
            return s;
        }
    s.port_origin = {s.port == 22 ? "default" : "ssh config", "", 0};
    return s;
}

}  // namespace synwhy::probe
