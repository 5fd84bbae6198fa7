#include "host/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace synwhy::host::procfs {

std::optional<std::string> read_file(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close(fd);
            return std::nullopt;
        }
        break;
    }
    close(fd);
    return out;
}

std::string read_line(const std::string& path) {
    auto text = read_file(path);
    if (!text) return "";
    auto nl = text->find('\n');
    return nl == std::string::npos ? *text : text->substr(0, nl);
}

std::string read_comm(const std::string& path) {
    auto text = read_file(path);
    if (!text) return "";
    if (!text->empty() && text->back() == '\n') text->pop_back();
    return *text;
}

std::optional<std::string> read_link(const std::string& path) {
    char buf[PATH_MAX];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) return std::nullopt;
    return std::string(buf, size_t(n));
}

std::vector<int> list_pids() {
    std::vector<int> pids;
    DIR* d = opendir("/proc");
    if (!d) return pids;
    while (struct dirent* e = readdir(d)) {
        const char* name = e->d_name;
        if (*name < '1' || *name > '9') continue;
        char* end = nullptr;
        long pid = strtol(name, &end, 10);
        if (*end == '\0' && pid > 0 && pid <= INT32_MAX) pids.push_back(int(pid));
    }
    closedir(d);
    std::sort(pids.begin(), pids.end());
    return pids;
}

std::optional<StatFields> parse_stat(const std::string& line) {
    auto open_paren = line.find('(');
    auto close_paren = line.rfind(')');
    if (open_paren == std::string::npos || close_paren == std::string::npos || close_paren < open_paren)
        return std::nullopt;
    StatFields f;
    f.comm = line.substr(open_paren + 1, close_paren - open_paren - 1);
    // After ") ": state ppid pgrp ...
    const char* p = line.c_str() + close_paren + 1;
    while (*p == ' ') ++p;
    if (!*p) return std::nullopt;
    f.state = *p++;
    char* end = nullptr;
    long ppid = strtol(p, &end, 10);
    if (end == p) return std::nullopt;
    f.ppid = int(ppid);
    return f;
}

std::optional<StatFields> read_stat(int pid) {
    auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return std::nullopt;
    return parse_stat(*text);
}

std::vector<std::string> split_cmdline(const std::string& raw) {
    std::vector<std::string> argv;
    size_t start = 0;
    while (start < raw.size()) {
        size_t nul = raw.find('\0', start);
        if (nul == std::string::npos) nul = raw.size();
        argv.push_back(raw.substr(start, nul - start));
        start = nul + 1;
    }
    // A rewritten process title may leave empty trailing arguments.
    while (!argv.empty() && argv.back().empty()) argv.pop_back();
    return argv;
}

std::vector<std::string> read_cmdline(int pid) {
    auto raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    return raw ? split_cmdline(*raw) : std::vector<std::string>{};
}

uint64_t ns_inode(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return 0;
    return uint64_t(st.st_ino);
}

}  // namespace synwhy::host::procfs
