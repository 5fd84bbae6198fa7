// sshd processes from /proc: which ones run in this netns, with which config, and which of them is
// the listening daemon rather than a per-connection child.
#include "host/snapshot.h"

#include <memory>
#include <mutex>
#include <sstream>

#include "host/procfs.h"

namespace synwhy::host {

namespace {

bool is_sshd_comm(const std::string& comm) {
    // OpenSSH 9.8+ runs each connection in sshd-session (and sshd-auth in 10.x).
    return comm == "sshd" || comm == "sshd-session" || comm == "sshd-auth";
}

// sshd rewrites its process title into argv[0] ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100
// startups", "sshd: alice [priv]"); split such a title back into words so it reads like argv.
std::vector<std::string> words_of(const std::vector<std::string>& argv) {
    if (argv.size() != 1 || argv[0].find(' ') == std::string::npos) return argv;
    std::vector<std::string> words;
    std::istringstream in(argv[0]);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

bool is_rewritten_title(const std::vector<std::string>& argv) {
    return argv.size() == 1 && argv[0].starts_with("sshd: ");
}

// sshd's getopt options: the ones that take an argument, as in OpenSSH's sshd.c optstring.
bool takes_argument(char opt) {
    return std::string_view("CEbcfghkopu").find(opt) != std::string_view::npos;
}

struct SshdArgs {
    std::string config_path;   // last -f, "" if none
    std::string flags;         // every flag seen without an argument (D, d, i, t, T, ...)
};

SshdArgs parse_sshd_args(const std::vector<std::string>& argv) {
    SshdArgs a;
    auto words = words_of(argv);
    for (size_t i = 1; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w == "--") break;
        if (w.size() < 2 || w[0] != '-') continue;  // the binary path inside a title, or "[listener]"
        for (size_t j = 1; j < w.size(); ++j) {
            char opt = w[j];
            if (!takes_argument(opt)) {
                a.flags += opt;
                continue;
            }
            std::string value;
            if (j + 1 < w.size()) {
                value = w.substr(j + 1);
            } else if (i + 1 < words.size()) {
                value = words[++i];
            }
            if (opt == 'f') a.config_path = value;  // sshd keeps the last -f
            break;
        }
    }
    return a;
}

}  // namespace

std::string sshd_config_path_from_cmdline(const std::vector<std::string>& argv) {
    std::string path = parse_sshd_args(argv).config_path;
    return path.empty() ? "/etc/ssh/sshd_config" : path;
}

bool sshd_cmdline_is_daemon(const std::vector<std::string>& argv) {
    if (argv.empty()) return false;
    // A rewritten title is the daemon's only if it says so (OpenSSH >= 8.2): "sshd: alice@pts/0",
    // "sshd: [accepted]" are connection children, even when reparented after the daemon died.
    if (is_rewritten_title(argv) && argv[0].find("[listener]") == std::string::npos) return false;
    std::string flags = parse_sshd_args(argv).flags;
    // -i: one inetd/socket-activated connection; -t/-T/-G: a config test, not a server.
    return flags.find_first_of("itTG") == std::string::npos;
}

std::shared_ptr<const std::vector<ProcessEntry>> process_table(std::chrono::milliseconds max_age) {
    static std::mutex mutex;
    static std::shared_ptr<const std::vector<ProcessEntry>> table;
    static std::chrono::steady_clock::time_point taken;
    std::lock_guard<std::mutex> lock(mutex);
    auto now = std::chrono::steady_clock::now();
    if (table && now - taken <= max_age) return table;
    auto fresh = std::make_shared<std::vector<ProcessEntry>>();
    for (int pid : procfs::list_pids()) {
        const std::string base = "/proc/" + std::to_string(pid);
        fresh->push_back({pid, procfs::read_comm(base + "/comm"), procfs::ns_inode(base + "/ns/net")});
    }
    table = std::move(fresh);
    taken = now;
    return table;
}

std::vector<SshdProcess> find_sshd_processes() {
    std::vector<SshdProcess> out;
    const uint64_t own_netns = procfs::ns_inode("/proc/thread-self/ns/net");
    for (const auto& process : *process_table()) {
        const int pid = process.pid;
        const std::string base = "/proc/" + std::to_string(pid);
        const std::string& comm = process.comm;
        if (!is_sshd_comm(comm)) continue;
        // Only the sshd of the watched netns can listen there; one elsewhere is somebody else's.
        // An unreadable ns link (no privileges) keeps the process: better shown than hidden.
        uint64_t netns = process.netns;
        if (netns && own_netns && netns != own_netns) continue;
        auto stat = procfs::read_stat(pid);
        if (!stat) continue;  // exited meanwhile
        auto argv = procfs::read_cmdline(pid);

        SshdProcess p;
        p.pid = pid;
        p.ppid = stat->ppid;
        p.exe = procfs::read_link(base + "/exe").value_or("");
        for (const auto& a : argv) p.cmdline += (p.cmdline.empty() ? "" : " ") + a;
        p.config_path = sshd_config_path_from_cmdline(argv);
        std::string parent_comm = procfs::read_comm("/proc/" + std::to_string(p.ppid) + "/comm");
        p.is_listener = comm == "sshd" && !is_sshd_comm(parent_comm) && sshd_cmdline_is_daemon(argv);
        out.push_back(std::move(p));
    }
    // A connection child's title no longer names the config; it runs with its daemon's. Walk up
    // the chain (daemon -> [priv] -> [net]/user) a few times since pids need not be in order.
    for (int round = 0; round < 4; ++round) {
        for (auto& p : out) {
            if (p.is_listener) continue;
            for (const auto& parent : out)
                if (parent.pid == p.ppid) p.config_path = parent.config_path;
        }
    }
    return out;
}

}  // namespace synwhy::host
