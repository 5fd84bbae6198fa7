#include "render/metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "diagnosis/diagnose.h"

namespace synwhy {

namespace {
std::string label_value(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}
}  // namespace

void declare_flow_series(WatchMetrics& m, uint16_t port, const std::string& netns) {
    for (const char* verdict :
         {cause::accepted, cause::no_listener, cause::listening_elsewhere, cause::bound_other_address,
          cause::firewall_drop, cause::firewall_reject, cause::other_netns, cause::dnat_refused, cause::listen_overflow,
          cause::reply_dropped, cause::handshake_incomplete, cause::kernel_drop, cause::sshd_failing,
          cause::not_sshd, cause::unanswered})
        m.syns.try_emplace({port, verdict, netns}, 0);
}

std::string prometheus_text(const WatchMetrics& m) {
    std::string out;
    out += "# HELP synwhy_syns_total Inbound SYNs to a watched port, by the fate synwhy gave them.\n";
    out += "# TYPE synwhy_syns_total counter\n";
    for (const auto& [key, n] : m.syns) {
        const auto& [port, verdict, netns] = key;
        out += fmt::format("synwhy_syns_total{{port=\"{}\",verdict=\"{}\",netns=\"{}\"}} {}\n", port,
                           label_value(verdict), label_value(netns), n);
    }
    out += "# HELP synwhy_kernel_syns_total Inbound SYNs to watched ports counted in the kernel (exact, detailed or not).\n";
    out += "# TYPE synwhy_kernel_syns_total counter\n";
    out += fmt::format("synwhy_kernel_syns_total {}\n", m.syns_seen_kernel);
    out += "# HELP synwhy_events_lost_total Kernel events not detailed because the ring buffer was full.\n";
    out += "# TYPE synwhy_events_lost_total counter\n";
    out += fmt::format("synwhy_events_lost_total {}\n", m.events_lost);
    out += "# HELP synwhy_events_rate_limited_total Kernel events not detailed because of the detail rate bound.\n";
    out += "# TYPE synwhy_events_rate_limited_total counter\n";
    out += fmt::format("synwhy_events_rate_limited_total {}\n", m.events_rate_limited);
    out += "# HELP synwhy_forwarded_syns_total SYNs that passed through to another host (not judged).\n";
    out += "# TYPE synwhy_forwarded_syns_total counter\n";
    out += fmt::format("synwhy_forwarded_syns_total {}\n", m.syns_forwarded);
    out += "# HELP synwhy_up 1 while synwhy watch runs; 0 in the file it leaves when it ends.\n";
    out += "# TYPE synwhy_up gauge\n";
    out += fmt::format("synwhy_up {}\n", m.up ? 1 : 0);
    out += "# HELP synwhy_last_update_timestamp_seconds When this file was written.\n";
    out += "# TYPE synwhy_last_update_timestamp_seconds gauge\n";
    out += fmt::format("synwhy_last_update_timestamp_seconds {:.3f}\n", m.updated_unix_seconds);
    return out;
}

namespace {

// A new file beside `path` (same directory, so a rename is atomic), created with O_EXCL and
// O_NOFOLLOW, mode 0644: nothing that already stands there, a symlink least of all, is opened.
int create_temp_beside(const std::string& path, std::string& tmp, std::string& error) {
    tmp = fmt::format("{}.tmp.{}", path, getpid());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {  // left by an earlier synwhy with this pid that was killed
        unlink(tmp.c_str());
        fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    }
    if (fd < 0) error = fmt::format("cannot create {}: {}", path, strerror(errno));
    return fd;
}

}  // namespace

bool rename_over(const std::string& tmp, const std::string& path, std::string& error) {
    if (rename(tmp.c_str(), path.c_str()) == 0) return true;
    error = fmt::format("cannot rename {} to {}: {}", tmp, path, strerror(errno));
    unlink(tmp.c_str());
    return false;
}

bool write_file_beside(const std::string& path, const std::string& text, std::string& tmp, std::string& error) {
    int fd = create_temp_beside(path, tmp, error);
    if (fd < 0) return false;
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = fmt::format("cannot write {}: {}", tmp, strerror(errno));
            close(fd);
            unlink(tmp.c_str());
            return false;
        }
        done += size_t(n);
    }
    close(fd);
    return true;
}

bool replace_file_atomically(const std::string& path, const std::string& text, std::string& error) {
    std::string tmp;
    return write_file_beside(path, text, tmp, error) && rename_over(tmp, path, error);
}

bool check_file_creatable(const std::string& path, std::string& error) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        error = fmt::format("cannot create {}: it is a directory", path);
        return false;
    }
    std::string tmp;
    if (!write_file_beside(path, "", tmp, error)) return false;
    unlink(tmp.c_str());
    return true;
}

int create_file_replacing(const std::string& path, std::string& error) {
    std::string tmp;
    int fd = create_temp_beside(path, tmp, error);
    if (fd < 0) return -1;
    if (!rename_over(tmp, path, error)) {
        close(fd);
        return -1;
    }
    return fd;
}

}  // namespace synwhy
