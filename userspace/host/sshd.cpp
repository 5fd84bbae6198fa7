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
#include "host/text.h"

namespace synwhy::host {

namespace {

// The binary's path in synwhy's own mount namespace.
std::string find_sshd_binary() {
    for (const char* p : {"/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"})
        if (access(p, X_OK) == 0) return p;
    return "";
}

// A container's sshd is never run: it would run as root with synwhy's capabilities, in the host's
// pid, user and network namespaces. Not a config error: nothing was learnt of the file.
SshdConfig not_run_in_container(const std::string& config_path) {
    SshdConfig c;
    c.config_path = config_path;
    c.checked_with =
        "not checked: synwhy does not run a container's programs; to check it, run inside the container: sshd -T";
    return c;
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

std::string missing_privsep_dir(const std::string& sshd_error) {
    // OpenSSH's sshd.c: "Missing privilege separation directory: %s" (_PATH_PRIVSEP_CHROOT_DIR).
    constexpr std::string_view prefix = "Missing privilege separation directory: ";
    std::string line = trim(sshd_error);
    if (!line.starts_with(prefix)) return "";
    std::string dir = line.substr(prefix.size());
    // An absolute path with no "." or ".." component and nothing odd in it, or nothing.
    if (dir.size() < 2 || dir[0] != '/' || dir.back() == '/' || dir.size() > 256) return "";
    if (dir.find("/./") != std::string::npos || dir.find("/../") != std::string::npos || dir.ends_with("/..") ||
        dir.ends_with("/.") || dir.find("//") != std::string::npos)
        return "";
    for (unsigned char c : dir)
        if (c <= ' ' || c == 0x7f) return "";
    return dir;
}

std::string private_dir_refusal(const std::string& dir, const std::vector<std::string>& needed_paths) {
    auto slash = dir.find_last_of('/');
    std::string parent = slash == std::string::npos || slash == 0 ? "/" : dir.substr(0, slash);
    if (parent == "/") return "a tmpfs over / would hide everything";
    for (const auto& path : needed_paths)
        if (path == parent || path.starts_with(parent + "/"))
            return "a tmpfs over " + parent + " would hide " + path;
    return "";
}

SshdConfig answer_with_private_dir(const std::string& config_path, const std::string& dir, const SshdConfig& retry,
                                   const std::string& retry_error) {
    const std::string checked = "with a private " + dir + " (the real one is missing: ssh.service creates it when it starts)";
    const std::string not_checked = "not checked: sshd refuses to read its config while " + dir + " is missing";
    SshdConfig c;
    c.config_path = config_path;
    if (!retry_error.empty()) {
        c.checked_with = not_checked + ", and a private one could not be made: " + retry_error;
        return c;
    }
    if (!retry.ok && !missing_privsep_dir(retry.error).empty()) {
        c.checked_with = not_checked + ", even with a private one";
        return c;
    }
    // "sshd -T ..." is the run failing (not installed, timed out, killed, no output), not the config.
    if (!retry.ok && retry.error.starts_with("sshd -T")) {
        c.checked_with = not_checked + ", and the run with a private one failed: " + retry.error;
        return c;
    }
    c = retry;  // its answer, or the config error it found
    c.config_path = config_path;
    c.checked_with = checked;
    return c;
}

namespace {

SshdConfig run_sshd_config_query(const std::string& sshd, const std::string& config_path,
                                 std::chrono::milliseconds timeout, const ExecView& view);

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
    std::string privsep_dir;  // checked with a private one: the real one appearing changes the answer
    FileStamp privsep;
    uint64_t at_ms = 0;
    SshdConfig answer;
};
constexpr uint64_t answer_valid_ms = 2000;
std::mutex cache_mutex;
std::map<std::pair<std::string, std::string>, CachedAnswer> cache;  // (sshd, config path)

}  // namespace

SshdConfig query_sshd_config(const std::string& config_path, std::chrono::milliseconds timeout,
                              const std::string& root) {
    if (!root.empty()) return not_run_in_container(config_path);
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
            (it->second.privsep_dir.empty() || it->second.privsep == stamp_of(it->second.privsep_dir)) &&
            monotonic_ms() - it->second.at_ms < answer_valid_ms)
            return it->second.answer;
    }
    SshdConfig answer = run_sshd_config_query(sshd, config_path, timeout, ExecView{});
    // sshd refuses to read any config while its privilege separation directory is missing (a
    // stopped ssh.service removes /run/sshd): ask again where a private one exists.
    std::string privsep_dir = answer.ok ? "" : missing_privsep_dir(answer.error);
    if (!privsep_dir.empty()) {
        std::string refusal = private_dir_refusal(privsep_dir, {sshd, config_path, "/etc", "/usr"});
        SshdConfig retry;
        if (refusal.empty()) retry = run_sshd_config_query(sshd, config_path, timeout, ExecView{privsep_dir});
        answer = answer_with_private_dir(config_path, privsep_dir, retry, refusal.empty() ? retry.checked_with : refusal);
    }
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= 64) cache.clear();  // bounded: a handful of config paths in practice
    cache[key] = CachedAnswer{config, binary, privsep_dir, privsep_dir.empty() ? FileStamp{} : stamp_of(privsep_dir),
                              monotonic_ms(), answer};
    return answer;
}

namespace {

// One attempt in one view. A view that could not be set up (the private directory's namespace)
// comes back with its reason in checked_with and no error: nothing was learnt of the config.
SshdConfig run_sshd_config_query(const std::string& sshd, const std::string& config_path,
                                 std::chrono::milliseconds timeout, const ExecView& view) {
    SshdConfig c;
    c.config_path = config_path;
    ExecResult big_t = run_program({sshd, "-T", "-f", config_path}, timeout, view);
    if (big_t.started && !big_t.timed_out && big_t.exit_code == 0) {
        SshdConfig parsed = parse_sshd_T(big_t.out);
        parsed.config_path = config_path;
        return parsed;
    }
    if (!view.private_dir.empty() && !big_t.started) {
        c.checked_with = big_t.error;
        return c;
    }
    if (!big_t.started || big_t.timed_out) {
        c.error = describe_failure("sshd -T", big_t, timeout);
        return c;
    }
    // -t states the problem the same way without dumping the rest; -T's own stderr is the fallback.
    ExecResult small_t = run_program({sshd, "-t", "-f", config_path}, timeout, view);
    std::string line;
    if (small_t.started && !small_t.timed_out) line = first_sshd_error_line(small_t.err);
    if (line.empty()) line = first_sshd_error_line(big_t.err);
    c.error = line.empty() ? describe_failure("sshd -T", big_t, timeout) : line;
    return c;
}

}  // namespace

}  // namespace synwhy::host
