// sshd's effective configuration: `sshd -T -f PATH`, and on failure the error `sshd -t` prints.
#include "host/snapshot.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "host/exec.h"

namespace synwhy::host {

namespace {

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string find_sshd_binary() {
    for (const char* p : {"/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"})
        if (access(p, X_OK) == 0) return p;
    return "";
}

// Why a run gave no usable output, for when stderr says nothing.
std::string describe_failure(const std::string& what, const ExecResult& r, std::chrono::milliseconds timeout) {
    if (!r.started) return what + ": " + r.error;
    if (r.timed_out) return what + " timed out after " + std::to_string(timeout.count()) + " ms";
    if (r.exit_code < 0) return what + " was killed by signal " + std::to_string(-r.exit_code);
    return what + " exited with status " + std::to_string(r.exit_code);
}

}  // namespace

SshdConfig parse_sshd_T(const std::string& text) {
    SshdConfig c;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string key, value;
        if (!(words >> key >> value)) continue;
        if (key == "port") {
            // sshd prints each Port once; a value that is not a port number is ignored.
            char* end = nullptr;
            long port = std::strtol(value.c_str(), &end, 10);
            if (*end == '\0' && port > 0 && port <= 65535 &&
                std::find(c.ports.begin(), c.ports.end(), uint16_t(port)) == c.ports.end())
                c.ports.push_back(uint16_t(port));
        } else if (key == "listenaddress") {
            // "0.0.0.0:22", "[::]:22", possibly followed by "rdomain NAME": keep the address only.
            c.listen_addresses.push_back(value);
        } else if (key == "addressfamily") {
            c.address_family = value;
        }
    }
    // `sshd -T` always prints port and addressfamily; without them this was not its output.
    c.ok = !c.ports.empty() || !c.listen_addresses.empty();
    if (!c.ok) c.error = "sshd -T printed no port or listenaddress";
    return c;
}

std::string first_sshd_error_line(const std::string& stderr_text) {
    // sshd -t warns about deprecated or unsupported options before the error that stops it;
    // those warnings are not the reason, so they only count when nothing else was printed.
    std::string first_any;
    std::istringstream in(stderr_text);
    for (std::string line; std::getline(in, line);) {
        line = trim(line);  // sshd ends its stderr lines with "\r\n"
        if (line.empty()) continue;
        if (first_any.empty()) first_any = line;
        if (line.find(": Deprecated option ") != std::string::npos ||
            line.find(": Unsupported option ") != std::string::npos)
            continue;
        return line;
    }
    return first_any;
}

namespace {

SshdConfig run_sshd_config_query(const std::string& sshd, const std::string& config_path,
                                 std::chrono::milliseconds timeout);

// The identity of a file as far as a change to it shows: a new inode, size, mtime or ctime.
using FileStamp = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t, int64_t, int64_t>;
FileStamp stamp_of(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return {};
    return {st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec,
            st.st_ctim.tv_nsec};
}

uint64_t monotonic_ms() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

// sshd's answer does not depend on the network namespace the probe runs in, and a snapshot of
// every namespace (--all-netns) asks it once per namespace: one run of sshd serves them all for a
// short while, as long as neither the config file nor the binary changed. Without this, 2000
// namespaces cost 2000 runs of sshd (~20 s), or 2000 timeouts if sshd hangs.
struct CachedAnswer {
    FileStamp config, binary;
    uint64_t at_ms = 0;
    SshdConfig answer;
};
constexpr uint64_t answer_valid_ms = 2000;
std::mutex cache_mutex;
std::map<std::pair<std::string, std::string>, CachedAnswer> cache;  // (sshd, config path)

}  // namespace

SshdConfig query_sshd_config(const std::string& config_path, std::chrono::milliseconds timeout) {
    std::string sshd = find_sshd_binary();
    if (sshd.empty()) {
        SshdConfig c;
        c.config_path = config_path;
        c.error = "sshd is not installed";
        return c;
    }
    auto key = std::make_pair(sshd, config_path);
    FileStamp config = stamp_of(config_path), binary = stamp_of(sshd);
    {
        std::lock_guard<std::mutex> lock(cache_mutex);
        auto it = cache.find(key);
        if (it != cache.end() && it->second.config == config && it->second.binary == binary &&
            monotonic_ms() - it->second.at_ms < answer_valid_ms)
            return it->second.answer;
    }
    SshdConfig answer = run_sshd_config_query(sshd, config_path, timeout);
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= 64) cache.clear();  // bounded: a handful of config paths in practice
    cache[key] = CachedAnswer{config, binary, monotonic_ms(), answer};
    return answer;
}

namespace {

SshdConfig run_sshd_config_query(const std::string& sshd, const std::string& config_path,
                                 std::chrono::milliseconds timeout) {
    SshdConfig c;
    c.config_path = config_path;
    ExecResult big_t = run_program({sshd, "-T", "-f", config_path}, timeout);
    if (big_t.started && !big_t.timed_out && big_t.exit_code == 0) {
        SshdConfig parsed = parse_sshd_T(big_t.out);
        parsed.config_path = config_path;
        return parsed;
    }
    if (!big_t.started || big_t.timed_out) {
        c.error = describe_failure("sshd -T", big_t, timeout);
        return c;
    }
    // -t states the problem the same way without dumping the rest; -T's own stderr is the fallback.
    ExecResult small_t = run_program({sshd, "-t", "-f", config_path}, timeout);
    std::string line;
    if (small_t.started && !small_t.timed_out) line = first_sshd_error_line(small_t.err);
    if (line.empty()) line = first_sshd_error_line(big_t.err);
    c.error = line.empty() ? describe_failure("sshd -T", big_t, timeout) : line;
    return c;
}

}  // namespace

}  // namespace synwhy::host
