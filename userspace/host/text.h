// Small text helpers shared by the host probes (internal to host/).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace synwhy::host {

// `s` without leading and trailing spaces, tabs, CRs and newlines (sshd ends its lines with "\r\n").
inline std::string trim(std::string_view s) {
    constexpr std::string_view ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return "";
    return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

// A shell-style value: matching outer quotes removed, backslash escapes undone inside "...";
// an unmatched quote is kept as it is.
inline std::string shell_unquote(const std::string& raw) {
    if (raw.size() < 2 || (raw.front() != '"' && raw.front() != '\'') || raw.back() != raw.front()) return raw;
    std::string inner = raw.substr(1, raw.size() - 2), out;
    for (size_t i = 0; i < inner.size(); ++i) {
        if (raw.front() == '"' && inner[i] == '\\' && i + 1 < inner.size()) ++i;
        out += inner[i];
    }
    return out;
}

// KEY=value of a shell-style config file (os-release, ufw.conf, firewalld.conf), unquoted; "" if
// absent. The last assignment wins, as in a shell.
inline std::string shell_config_value(const std::string& text, std::string_view key) {
    std::istringstream in(text);
    std::string value;
    for (std::string line; std::getline(in, line);) {
        std::string l = trim(line);
        if (l.empty() || l[0] == '#') continue;
        auto eq = l.find('=');
        if (eq == std::string::npos || trim(std::string_view(l).substr(0, eq)) != key) continue;
        value = shell_unquote(trim(std::string_view(l).substr(eq + 1)));
    }
    return value;
}

}  // namespace synwhy::host
