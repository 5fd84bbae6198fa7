// Firewall managers found running in the watched netns (or enabled, for ufw), and fail2ban's bans
// as fail2ban-client reports them. Read-only: the client is only asked what is banned.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "host/exec.h"
#include "host/procfs.h"
#include "host/snapshot.h"
#include "host/text.h"

namespace synwhy::host {

const std::vector<KnownManager>& known_firewall_managers() {
    // One line a daemon. comm is what the kernel keeps: the executable's name cut to 15
    // characters, or what the program set (python daemons set theirs).
    static const std::vector<KnownManager> table = {
        {"fail2ban", "fail2ban-server", ""},
        {"firewalld", "firewalld", ""},
        {"sshguard", "sshguard", ""},
        {"crowdsec", "crowdsec", ""},
        {"crowdsec", "crowdsec-firewa", "crowdsec-firewall-bouncer"},
        {"tailscale", "tailscaled", ""},
        {"docker", "dockerd", ""},
        {"podman", "podman", "podman system service"},
        {"podman", "conmon", "conmon, the monitor of a podman (or CRI-O) container"},
        {"kube-proxy", "kube-proxy", ""},
        {"calico", "calico-node", ""},
        {"cilium", "cilium-agent", ""},
    };
    return table;
}

namespace {

std::string lowercase(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

bool ufw_enabled(const std::string& text) { return lowercase(shell_config_value(text, "ENABLED")) == "yes"; }

std::vector<FirewallManager> find_firewall_managers(uint32_t netns, const std::string& root) {
    std::vector<FirewallManager> found;
    std::set<std::string_view> seen;
    const auto& table = known_firewall_managers();
    for (const auto& process : *process_table()) {
        const std::string& comm = process.comm;
        auto known = std::find_if(table.begin(), table.end(), [&](const KnownManager& m) { return m.comm == comm; });
        if (known == table.end() || seen.count(known->name)) continue;
        // A manager manages the namespace it runs in. An unreadable link keeps it (better shown).
        if (process.netns && netns && process.netns != netns) continue;
        seen.insert(known->name);
        FirewallManager m{std::string(known->name), process.pid, ""};
        if (m.name == "firewalld") {
            std::string zone = shell_config_value(read_file_in_root(root, "/etc/firewalld/firewalld.conf").value_or(""), "DefaultZone");
            if (!zone.empty()) m.detail = "default zone " + zone + " (/etc/firewalld/firewalld.conf)";
        } else {
            m.detail = known->detail;
        }
        found.push_back(std::move(m));
    }
    // ufw has no daemon: its rules stay loaded while ufw.conf says ENABLED=yes.
    if (auto conf = read_file_in_root(root, "/etc/ufw/ufw.conf"); conf && ufw_enabled(*conf))
        found.push_back({"ufw", 0, "enabled in /etc/ufw/ufw.conf"});
    return found;
}

// --- fail2ban-client's answers.

namespace {

// A reader of the Python literal fail2ban-client prints (repr of lists, dicts and strings).
class PyLiteral {
public:
    explicit PyLiteral(std::string_view text) : s_(text) {}

    void skip_space() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    bool eat(char c) {
        skip_space();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool at_end() {
        skip_space();
        return i_ == s_.size();
    }
    // 'text' or "text" with backslash escapes taken literally but for the quoted character.
    std::optional<std::string> string() {
        skip_space();
        if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return std::nullopt;
        char quote = s_[i_++];
        std::string out;
        while (i_ < s_.size() && s_[i_] != quote) {
            if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
            out += s_[i_++];
        }
        if (i_ >= s_.size()) return std::nullopt;
        ++i_;
        return out;
    }
    // ['a', 'b'], as repr prints a list of strings.
    std::optional<std::vector<std::string>> string_list() {
        std::vector<std::string> items;
        if (!eat('[')) return std::nullopt;
        if (eat(']')) return items;
        for (;;) {
            auto item = string();
            if (!item) return std::nullopt;
            items.push_back(std::move(*item));
            if (eat(']')) return items;
            if (!eat(',')) return std::nullopt;
        }
    }

private:
    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

std::optional<std::vector<std::pair<std::string, std::vector<std::string>>>> parse_fail2ban_banned(
    const std::string& text) {
    // [{'sshd': ['203.0.113.1']}, {'recidive': []}]: one dict a jail.
    std::vector<std::pair<std::string, std::vector<std::string>>> jails;
    PyLiteral p(text);
    if (!p.eat('[')) return std::nullopt;
    bool more = !p.eat(']');
    while (more) {
        if (!p.eat('{')) return std::nullopt;
        bool more_keys = !p.eat('}');
        while (more_keys) {
            auto jail = p.string();
            if (!jail || !p.eat(':')) return std::nullopt;
            auto addrs = p.string_list();
            if (!addrs) return std::nullopt;
            jails.emplace_back(std::move(*jail), std::move(*addrs));
            more_keys = p.eat(',');
            if (!more_keys && !p.eat('}')) return std::nullopt;
        }
        more = p.eat(',');
        if (!more && !p.eat(']')) return std::nullopt;
    }
    if (!p.at_end()) return std::nullopt;
    return jails;
}

namespace {

// "2026-12-02 03:00:00" at the start of `s` (after spaces); the rest after it in `rest`.
bool parse_timestamp(std::string_view s, int fields[6], std::string_view& rest) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    if (s.size() < 19) return false;
    std::string stamp(s.substr(0, 19));
    char tail = 0;
    if (std::sscanf(stamp.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%c", &fields[0], &fields[1], &fields[2], &fields[3],
                    &fields[4], &fields[5], &tail) != 6)
        return false;
    if (fields[1] < 1 || fields[1] > 12 || fields[2] < 1 || fields[2] > 31 || fields[3] > 23 || fields[4] > 59 ||
        fields[5] > 61 || fields[0] < 1970 || fields[3] < 0 || fields[4] < 0 || fields[5] < 0)
        return false;
    rest = s.substr(19);
    return true;
}

}  // namespace

std::vector<Ban> parse_fail2ban_banip_with_time(const std::string& jail, const std::string& text,
                                                TimeToEpoch to_epoch) {
    if (!to_epoch) to_epoch = mktime;
    auto epoch = [&](const int f[6]) -> uint64_t {
        struct tm t {};
        t.tm_year = f[0] - 1900;
        t.tm_mon = f[1] - 1;
        t.tm_mday = f[2];
        t.tm_hour = f[3];
        t.tm_min = f[4];
        t.tm_sec = f[5];
        t.tm_isdst = -1;  // whatever the date's own
        time_t seconds = to_epoch(&t);
        return seconds < 0 ? 0 : uint64_t(seconds);
    };
    std::vector<Ban> bans;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        // "ADDR \tSINCE + BANTIME = UNTIL"; a line with only an address is still a ban.
        std::string l = trim(line);
        auto space = l.find_first_of(" \t");
        auto addr = IpAddr::parse(l.substr(0, space));
        if (!addr) continue;
        Ban b{"fail2ban", jail, *addr, 0, 0};
        std::string_view rest = space == std::string::npos ? std::string_view() : std::string_view(l).substr(space);
        int since[6], until[6];
        if (parse_timestamp(rest, since, rest)) {
            b.since_s = epoch(since);
            // A permanent ban (bantime -1) ends in year 9999: no end.
            auto eq = rest.find('=');
            if (eq != std::string_view::npos && parse_timestamp(rest.substr(eq + 1), until, rest) && until[0] < 9999)
                b.until_s = epoch(until);
        }
        bans.push_back(std::move(b));
    }
    return bans;
}

namespace {

// All of fail2ban's answers within this, whatever the number of jails: 40 jails must not cost 40
// timeouts when the server hangs.
constexpr std::chrono::milliseconds fail2ban_budget{5000};
// Jails whose ban times are asked for; the bans of the others are kept without their times.
constexpr size_t max_jails_timed = 16;

// Where fail2ban's client is installed: by the distribution's package, else by pip.
std::string find_fail2ban_client() {
    for (const char* path : {"/usr/bin/fail2ban-client", "/usr/local/bin/fail2ban-client"})
        if (access(path, X_OK) == 0) return path;
    return "";
}

// Why a run of the client gave no answer.
std::string run_failure(const ExecResult& r) {
    if (!r.started || r.timed_out) return r.error;
    std::string err = trim(r.err);
    return err.empty() ? fmt::format("exit status {}", r.exit_code) : err.substr(0, 200);
}

bool answered(const ExecResult& r) { return r.started && !r.timed_out && r.exit_code == 0; }

}  // namespace

std::vector<Ban> query_fail2ban_bans(const std::string& root, std::chrono::milliseconds timeout, std::string& error) {
    std::vector<Ban> bans;
    if (!root.empty()) {
        // A container's client would run as root with synwhy's capabilities in the host's namespaces.
        error = "fail2ban's bans in this container were not read (synwhy does not run a container's programs); "
                "inside the container: fail2ban-client banned";
        return bans;
    }
    const std::string client = find_fail2ban_client();
    if (client.empty()) {
        error = "fail2ban runs, but fail2ban-client is in neither /usr/bin nor /usr/local/bin: its bans were not read";
        return bans;
    }
    const auto deadline = std::chrono::steady_clock::now() + fail2ban_budget;
    // One run's time: `timeout`, or what is left of the budget if less (zero once it is spent).
    auto time_left = [&] {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return std::clamp(left, std::chrono::milliseconds(0), timeout);
    };
    ExecResult banned = run_program({client, "banned"}, time_left());
    if (!answered(banned)) {
        error = "fail2ban-client banned: " + run_failure(banned);
        return bans;
    }
    auto jails = parse_fail2ban_banned(trim(banned.out));
    if (!jails) {
        error = "fail2ban-client banned: unexpected output: " + trim(banned.out).substr(0, 200);
        return bans;
    }
    std::vector<std::string> problems;
    size_t timed = 0, untimed = 0;
    for (const auto& [jail, addrs] : *jails) {
        if (addrs.empty()) continue;
        // The times, when this fail2ban knows --with-time and the budget allows; else the addresses alone.
        std::vector<Ban> with_times;
        auto left = time_left();
        if (timed < max_jails_timed && left.count() > 0) {
            ++timed;
            ExecResult r = run_program({client, "get", jail, "banip", "--with-time"}, left);
            if (answered(r))
                with_times = parse_fail2ban_banip_with_time(jail, r.out);
            else if (problems.empty())  // the first failure says it; the others are likely the same
                problems.push_back(fmt::format("fail2ban-client get {} banip --with-time: {}", jail, run_failure(r)));
        } else {
            ++untimed;
        }
        for (const auto& text : addrs) {
            auto addr = IpAddr::parse(text);
            if (!addr) continue;  // a hostname-like id fail2ban bans by; not an address
            auto it = std::find_if(with_times.begin(), with_times.end(), [&](const Ban& b) { return b.addr == *addr; });
            bans.push_back(it != with_times.end() ? *it : Ban{"fail2ban", jail, *addr, 0, 0});
        }
    }
    if (untimed)
        problems.push_back(fmt::format("fail2ban: ban times of {} jail(s) not asked for (at most {} jails, {} s in all)",
                                       untimed, max_jails_timed, fail2ban_budget.count() / 1000.0));
    for (const auto& p : problems) error += (error.empty() ? "" : "; ") + p;
    return bans;
}

}  // namespace synwhy::host
