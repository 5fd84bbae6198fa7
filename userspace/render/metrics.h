// `watch --metrics-file`: counters per (port, verdict, netns) in the Prometheus text format, for
// node_exporter's textfile collector. The file is replaced atomically, never seen half-written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace synwhy {

struct WatchMetrics {
    // (port, verdict, netns label) -> SYNs given that verdict
    std::map<std::tuple<uint16_t, std::string, std::string>, uint64_t> syns;
    uint64_t syns_seen_kernel = 0;   // counted in the kernel, detailed or not
    uint64_t events_lost = 0;        // ring buffer full
    uint64_t events_rate_limited = 0;  // held back in the kernel by the detail rate bound
    uint64_t syns_forwarded = 0;     // passing through to other hosts, not judged
    bool up = true;                  // false in the last write, when watch ends
    double updated_unix_seconds = 0;
};

// Every flow verdict of (port, netns label) as a series at 0, when not there yet: an alert's
// increase() sees the first refusal only on a series that existed before it (a series that
// appears at 3 has no increase to Prometheus).
void declare_flow_series(WatchMetrics& m, uint16_t port, const std::string& netns);

// The file's text (pure: unit-tested). Label values are escaped as the format requires.
std::string prometheus_text(const WatchMetrics& m);

// Writes `text` to a new file next to `path` (O_EXCL, 0644) and renames it over `path`.
bool replace_file_atomically(const std::string& path, const std::string& text, std::string& error);
// The two halves, for a file prepared now and put in place later (the ready file): `tmp` is the
// new file's name; rename_over removes it when the rename fails.
bool write_file_beside(const std::string& path, const std::string& text, std::string& tmp, std::string& error);
bool rename_over(const std::string& tmp, const std::string& path, std::string& error);
// Whether a file can be put at `path` later (a probe file is made beside it and removed; `path`
// is no directory): bad output paths are refused before anything is attached or written.
bool check_file_creatable(const std::string& path, std::string& error);

// A new empty file, open for writing, that has just replaced `path` (created beside it with
// O_EXCL, 0644, then renamed over it): an existing file or symlink at `path` is replaced, never
// followed or truncated. -1 with `error` on failure (nothing is left behind).
int create_file_replacing(const std::string& path, std::string& error);

}  // namespace synwhy
