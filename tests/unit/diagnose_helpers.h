// Helpers shared by the diagnosis tests: run diagnose() on one snapshot, read its causes.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "diagnosis/diagnose.h"

namespace synwhy::testing {

// at_start: the snapshots taken before the capture (the listener that accepted comes from there).
inline Diagnosis run(std::vector<Event> events, HostSnapshot host, std::vector<uint16_t> ports = {22},
                     std::vector<HostSnapshot> at_start = {}) {
    DiagnosisInput in;
    in.ports = std::move(ports);
    in.events = std::move(events);
    in.hosts = {std::move(host)};
    in.hosts_at_start = std::move(at_start);
    return diagnose(in);
}

inline std::vector<std::string> codes(const Diagnosis& d) {
    std::vector<std::string> out;
    for (const auto& c : d.causes) out.push_back(c.code);
    return out;
}

inline int count_containing(const std::vector<std::string>& lines, const std::string& needle) {
    return static_cast<int>(std::count_if(lines.begin(), lines.end(),
                                          [&](const std::string& l) { return l.find(needle) != std::string::npos; }));
}

inline bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
    return count_containing(lines, needle) > 0;
}

}  // namespace synwhy::testing
