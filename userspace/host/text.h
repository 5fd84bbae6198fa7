// Small text helpers shared by the host probes (internal to host/).
#pragma once

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

}  // namespace synwhy::host
