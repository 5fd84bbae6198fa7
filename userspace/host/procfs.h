// Small readers for /proc shared by the host probes (internal to host/). A process may exit at any
// moment, so every reader reports failure instead of throwing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synwhy::host::procfs {

// The whole file, or nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

// The first line of a file without its newline ("" when unreadable).
std::string read_line(const std::string& path);

// /proc/PID/comm: the name without the newline the kernel adds. A name may hold newlines and
// escapes of its own (prctl, the executable's file name): kept whole, escaped when printed.
std::string read_comm(const std::string& path);

// readlink(2) as a string, or nullopt.
std::optional<std::string> read_link(const std::string& path);

// Numeric entries of /proc, ascending.
std::vector<int> list_pids();

// Fields of /proc/PID/stat that follow the comm: parsed from the last ')' since comm may hold
// spaces and parentheses. nullopt when the line is malformed.
struct StatFields {
    std::string comm;
    char state = '?';
    int ppid = 0;
};
std::optional<StatFields> parse_stat(const std::string& stat_line);
std::optional<StatFields> read_stat(int pid);

// argv from /proc/PID/cmdline (NUL-separated); empty for kernel threads or vanished processes.
std::vector<std::string> split_cmdline(const std::string& raw);
std::vector<std::string> read_cmdline(int pid);

// The inode of a namespace file (/proc/PID/ns/net), 0 when unreadable.
uint64_t ns_inode(const std::string& path);

}  // namespace synwhy::host::procfs
