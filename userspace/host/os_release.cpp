// Files of a mount view: os-release and the sshd socket generator, read through a root prefix
// without letting a container's absolute symlinks lead back to the host's files.
#include "host/snapshot.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "host/procfs.h"
#include "host/text.h"

namespace synwhy::host {

namespace {

// An O_PATH descriptor of `path` inside the view (of the link itself when !follow), or -1.
int open_path_in_root(const std::string& root, const std::string& path, bool follow = true) {
    int flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
    if (root.empty()) return open(path.c_str(), flags);
    int dir = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    size_t start = path.find_first_not_of('/');
    std::string relative = start == std::string::npos ? "." : path.substr(start);
    open_how how{};
    how.flags = uint64_t(flags);
    how.resolve = RESOLVE_IN_ROOT;
    int fd = int(syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof how));
    // Kernels before 5.6: a plain lookup, where only an absolute symlink could stray.
    if (fd < 0 && errno == ENOSYS) fd = openat(dir, relative.c_str(), flags);
    close(dir);
    return fd;
}

}  // namespace

std::optional<std::string> read_file_in_root(const std::string& root, const std::string& path) {
    if (root.empty()) return procfs::read_file(path);
    int fd = open_path_in_root(root, path);
    if (fd < 0) return std::nullopt;
    // Reopening an O_PATH descriptor through /proc/self/fd reads the file it resolved to.
    auto text = procfs::read_file("/proc/self/fd/" + std::to_string(fd));
    close(fd);
    return text;
}

OsRelease parse_os_release(const std::string& text) {
    return {shell_config_value(text, "ID"), shell_config_value(text, "VERSION_ID")};
}

OsRelease read_os_release(const std::string& root) {
    for (const char* path : {"/etc/os-release", "/usr/lib/os-release"})
        if (auto text = read_file_in_root(root, path)) return parse_os_release(*text);
    return {};
}

std::string find_sshd_socket_generator(const std::string& root) {
    // In systemd's search order: the first file of that name wins, and one in /etc linked to
    // /dev/null (or empty) masks the generator.
    for (const char* dir : {"/etc/systemd/system-generators", "/usr/lib/systemd/system-generators",
                            "/lib/systemd/system-generators"}) {
        std::string path = std::string(dir) + "/sshd-socket-generator";
        int link = open_path_in_root(root, path, false);
        if (link < 0) continue;
        char target[64] = {};
        bool masked = readlinkat(link, "", target, sizeof target - 1) > 0 && std::string(target) == "/dev/null";
        close(link);
        if (masked) return "";
        int fd = open_path_in_root(root, path);
        struct stat st {};
        bool ok = fd >= 0 && fstat(fd, &st) == 0;
        if (fd >= 0) close(fd);
        if (ok) return S_ISREG(st.st_mode) && st.st_size > 0 ? path : "";
    }
    return "";
}

}  // namespace synwhy::host
