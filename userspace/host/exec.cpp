// run_program: posix_spawn (no shell), stdout/stderr through pipes, a poll loop bounded by the
// timeout, SIGKILL to the child's process group on timeout, and always a reap. In an ExecView, a
// forked child sets up its namespaces first and reports a failed step through a close-on-exec pipe.
#include "host/exec.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace synwhy::host {

namespace {

// Keep at most this much of each stream; the rest is read and dropped so the child never blocks.
constexpr size_t max_capture = 1 << 20;

int64_t monotonic_ms() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

// Reads what is available on fd into out; closes fd at EOF or on error.
void drain(int& fd, std::string& out) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (out.size() < max_capture) out.append(buf, std::min(size_t(n), max_capture - out.size()));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_fd(fd);  // EOF or a real error
        return;
    }
}

// Through syscall(2): glibc 2.36's <sys/pidfd.h> lacks extern "C" and older ones lack the wrapper.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return int(syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1;
}

// Blocking reap, retried on EINTR.
int reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return decode_status(status);
}

// Spawn attributes and file actions, destroyed on every path.
class SpawnSetup {
public:
    SpawnSetup() {
        attr_ok_ = posix_spawnattr_init(&attr_) == 0;
        actions_ok_ = posix_spawn_file_actions_init(&actions_) == 0;
    }
    ~SpawnSetup() {
        if (attr_ok_) posix_spawnattr_destroy(&attr_);
        if (actions_ok_) posix_spawn_file_actions_destroy(&actions_);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;

    bool ok() const { return attr_ok_ && actions_ok_; }
    posix_spawnattr_t* attr() { return &attr_; }
    posix_spawn_file_actions_t* actions() { return &actions_; }

private:
    posix_spawnattr_t attr_{};
    posix_spawn_file_actions_t actions_{};
    bool attr_ok_ = false, actions_ok_ = false;
};

}  // namespace

namespace {

bool valid_argv(const std::vector<std::string>& argv, ExecResult& r) {
    if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
        r.error = "program path must be absolute";
        return false;
    }
    return true;
}

// Two pipes for stdout and stderr: our ends non-blocking, the child's blocking (the program does
// not expect non-blocking stdio), all O_CLOEXEC.
bool make_output_pipes(int out_pipe[2], int err_pipe[2], std::string& error) {
    if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        error = std::string("pipe: ") + strerror(errno);
        for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}) close_fd(*fd);
        return false;
    }
    fcntl(out_pipe[1], F_SETFL, 0);
    fcntl(err_pipe[1], F_SETFL, 0);
    return true;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    return cargv;
}

char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
char* child_envp[] = {path_env, nullptr};

// Reads the child's output until it exits or the timeout passes; kills its process group on
// timeout and always reaps it. Closes out_fd and err_fd.
void collect(pid_t pid, int out_fd, int err_fd, std::chrono::milliseconds timeout, ExecResult& r) {
    r.started = true;
    // A pidfd tells when the child exits without polling waitpid; if the kernel has none, poll
    // with a short period instead.
    int pidfd = open_pidfd(pid);
    bool exited = false;
    int status_code = -1;
    const int64_t deadline = monotonic_ms() + timeout.count();

    while (out_fd >= 0 || err_fd >= 0 || !exited) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) break;
        struct pollfd pfds[3];
        int n = 0, out_i = -1, err_i = -1, pid_i = -1;
        if (out_fd >= 0) pfds[out_i = n++] = {out_fd, POLLIN, 0};
        if (err_fd >= 0) pfds[err_i = n++] = {err_fd, POLLIN, 0};
        if (!exited && pidfd >= 0) pfds[pid_i = n++] = {pidfd, POLLIN, 0};
        int wait_ms = int(std::min<int64_t>(left, (!exited && pidfd < 0) ? 20 : left));
        int rc = poll(pfds, nfds_t(n), wait_ms);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0) {
            if (out_i >= 0 && pfds[out_i].revents) drain(out_fd, r.out);
            if (err_i >= 0 && pfds[err_i].revents) drain(err_fd, r.err);
        }
        if (!exited && (pidfd < 0 || (pid_i >= 0 && rc > 0 && pfds[pid_i].revents))) {
            int status = 0;
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = true;
                status_code = decode_status(status);
            }
        }
    }

    if (!exited) {
        // Out of time: kill the whole group (the child leads it) and reap the child.
        r.timed_out = true;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        status_code = reap(pid);
    }
    // If the child exited but something it forked still holds the pipes, stop reading anyway.
    close_fd(out_fd);
    close_fd(err_fd);
    close_fd(pidfd);
    r.exit_code = status_code;
    if (r.timed_out) r.error = "timed out after " + std::to_string(timeout.count()) + " ms";
}

}  // namespace

ExecResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    ExecResult r;
    if (!valid_argv(argv, r)) return r;
    if (access(argv[0].c_str(), X_OK) != 0) {
        r.error = argv[0] + ": " + strerror(errno);
        return r;
    }
    auto cargv = c_argv(argv);
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (!make_output_pipes(out_pipe, err_pipe, r.error)) return r;

    pid_t pid = -1;
    int spawn_rc = 0;
    {
        SpawnSetup s;
        if (!s.ok()) {
            spawn_rc = ENOMEM;
        } else {
            // Default dispositions and an empty mask: our handlers and blocked signals must not leak
            // into the child. Its own process group lets a timeout kill whatever it forked too.
            sigset_t all, none;
            sigfillset(&all);
            sigemptyset(&none);
            posix_spawnattr_setsigdefault(s.attr(), &all);
            posix_spawnattr_setsigmask(s.attr(), &none);
            posix_spawnattr_setpgroup(s.attr(), 0);
            posix_spawnattr_setflags(s.attr(), POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
            posix_spawn_file_actions_addopen(s.actions(), 0, "/dev/null", O_RDONLY, 0);
            posix_spawn_file_actions_adddup2(s.actions(), out_pipe[1], 1);
            posix_spawn_file_actions_adddup2(s.actions(), err_pipe[1], 2);
            // Descriptors of other modules may lack O_CLOEXEC; the child gets only 0-2.
            posix_spawn_file_actions_addclosefrom_np(s.actions(), 3);
            spawn_rc = posix_spawn(&pid, argv[0].c_str(), s.actions(), s.attr(), cargv.data(), child_envp);
        }
    }
    close_fd(out_pipe[1]);
    close_fd(err_pipe[1]);
    if (spawn_rc != 0) {
        close_fd(out_pipe[0]);
        close_fd(err_pipe[0]);
        r.error = argv[0] + ": " + strerror(spawn_rc);
        return r;
    }
    collect(pid, out_pipe[0], err_pipe[0], timeout, r);
    return r;
}

namespace {

// The steps a forked child takes before execve; a failed one is written to the report pipe.
enum class ChildStep : int { stdio = 1, enter_mount_ns, chroot, unshare, private_mounts, mount_tmpfs, make_dir, exec };
struct ChildFailure {
    ChildStep step;
    int err;
};

// Everything the child needs, prepared before fork: between fork and execve in a threaded process
// only async-signal-safe calls are allowed (no allocation).
struct ChildPlan {
    char* const* argv = nullptr;
    int out_fd = -1, err_fd = -1, report_fd = -1;
    int mount_ns_fd = -1;             // setns target, or -1
    int root_fd = -1;                 // the view's / to chroot into (O_PATH), or -1
    const char* tmpfs_dir = nullptr;  // the private directory's parent, or nullptr
    const char* private_dir = nullptr;
};

[[noreturn]] void child_failed(int report_fd, ChildStep step) {
    ChildFailure f{step, errno};
    ssize_t ignored = write(report_fd, &f, sizeof f);
    (void)ignored;
    _exit(127);
}

[[noreturn]] void run_child(const ChildPlan& p) {
    setpgid(0, 0);  // its own group: a timeout kills whatever it forks too
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // SIGKILL/SIGSTOP: EINVAL, fine
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(p.out_fd, 1) < 0 || dup2(p.err_fd, 2) < 0)
        child_failed(p.report_fd, ChildStep::stdio);
    if (p.mount_ns_fd >= 0 && setns(p.mount_ns_fd, CLONE_NEWNS) != 0) child_failed(p.report_fd, ChildStep::enter_mount_ns);
    // The process's own / within its namespace (a container's after pivot_root, a chroot's): the
    // working directory first, since unshare moves it (not an open fd) into the namespace's copy.
    if (p.root_fd >= 0 && fchdir(p.root_fd) != 0) child_failed(p.report_fd, ChildStep::chroot);
    if (p.private_dir) {
        // Private and unshared first, so that the tmpfs propagates to no peer mount of the host.
        if (unshare(CLONE_NEWNS) != 0) child_failed(p.report_fd, ChildStep::unshare);
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            child_failed(p.report_fd, ChildStep::private_mounts);
    }
    if (p.root_fd >= 0 && (chroot(".") != 0 || chdir("/") != 0)) child_failed(p.report_fd, ChildStep::chroot);
    if (p.private_dir) {
        if (mount("synwhy", p.tmpfs_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") != 0)
            child_failed(p.report_fd, ChildStep::mount_tmpfs);
        if (mkdir(p.private_dir, 0755) != 0 || chmod(p.private_dir, 0755) != 0)
            child_failed(p.report_fd, ChildStep::make_dir);
    }
    // Only 0-2 and the report pipe (closed by execve) reach the program.
    if (p.report_fd != 3 && dup2(p.report_fd, 3) < 0) child_failed(p.report_fd, ChildStep::stdio);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    if (close_range(4, ~0U, 0) != 0)
        for (int fd = 4; fd < 1024; ++fd) close(fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(p.argv[0], p.argv, child_envp);
    child_failed(3, ChildStep::exec);
}

std::string describe_child_failure(const ChildFailure& f, const std::vector<std::string>& argv, const ExecView& view,
                                   const std::string& mount_ns_path, const std::string& tmpfs_dir) {
    std::string what;
    switch (f.step) {
        case ChildStep::stdio: what = "redirecting stdio"; break;
        case ChildStep::enter_mount_ns: what = "entering the mount namespace " + mount_ns_path; break;
        case ChildStep::chroot: what = "chroot " + view.root; break;
        case ChildStep::unshare: what = "making a private mount namespace"; break;
        case ChildStep::private_mounts: what = "making the mounts private"; break;
        case ChildStep::mount_tmpfs: what = "mounting a tmpfs on " + tmpfs_dir; break;
        case ChildStep::make_dir: what = "making " + view.private_dir; break;
        case ChildStep::exec: what = argv[0]; break;
    }
    std::string hint;
    if (f.err == EPERM && (f.step == ChildStep::enter_mount_ns || f.step == ChildStep::chroot))
        hint = " (needs CAP_SYS_CHROOT and CAP_SYS_ADMIN)";
    return what + ": " + strerror(f.err) + hint;
}

// "/proc/PID/root" -> "/proc/PID/ns/mnt"; "" for any other root.
std::string mount_ns_of_root(const std::string& root) {
    constexpr std::string_view prefix = "/proc/", suffix = "/root";
    if (!root.starts_with(prefix) || !root.ends_with(suffix) || root.size() <= prefix.size() + suffix.size()) return "";
    std::string pid = root.substr(prefix.size(), root.size() - prefix.size() - suffix.size());
    if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) return "";
    return "/proc/" + pid + "/ns/mnt";
}

std::string parent_dir(const std::string& dir) {
    auto slash = dir.find_last_of('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return dir.substr(0, slash);
}

}  // namespace

ExecResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                       const ExecView& view) {
    if (view.root.empty() && view.private_dir.empty()) return run_program(argv, timeout);
    ExecResult r;
    if (!valid_argv(argv, r)) return r;
    if (access((view.root + argv[0]).c_str(), X_OK) != 0) {
        r.error = view.root + argv[0] + ": " + strerror(errno);
        return r;
    }
    const std::string tmpfs_dir = parent_dir(view.private_dir);
    if (!view.private_dir.empty() && (view.private_dir[0] != '/' || tmpfs_dir == "/")) {
        r.error = "refusing a private directory at " + view.private_dir + " (a tmpfs would hide " + tmpfs_dir + ")";
        return r;
    }
    const std::string mount_ns_path = mount_ns_of_root(view.root);
    int mount_ns_fd = -1, root_fd = -1;
    if (!mount_ns_path.empty() && (mount_ns_fd = open(mount_ns_path.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
        r.error = mount_ns_path + ": " + strerror(errno);
        return r;
    }
    if (!view.root.empty() && (root_fd = open(view.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r.error = view.root + ": " + strerror(errno);
        close_fd(mount_ns_fd);
        return r;
    }
    auto cargv = c_argv(argv);
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, report_pipe[2] = {-1, -1};
    if (!make_output_pipes(out_pipe, err_pipe, r.error) || pipe2(report_pipe, O_CLOEXEC) != 0) {
        if (r.error.empty()) r.error = std::string("pipe: ") + strerror(errno);
        for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1], &mount_ns_fd, &root_fd}) close_fd(*fd);
        return r;
    }
    ChildPlan plan;
    plan.argv = cargv.data();
    plan.out_fd = out_pipe[1];
    plan.err_fd = err_pipe[1];
    plan.report_fd = report_pipe[1];
    plan.mount_ns_fd = mount_ns_fd;
    plan.root_fd = root_fd;
    if (!view.private_dir.empty()) {
        plan.tmpfs_dir = tmpfs_dir.c_str();
        plan.private_dir = view.private_dir.c_str();
    }
    // fork, not posix_spawn: the child changes its namespaces before execve.
    pid_t pid = fork();
    if (pid == 0) run_child(plan);
    int fork_errno = errno;
    for (int* fd : {&out_pipe[1], &err_pipe[1], &report_pipe[1], &mount_ns_fd, &root_fd}) close_fd(*fd);
    if (pid < 0) {
        for (int* fd : {&out_pipe[0], &err_pipe[0], &report_pipe[0]}) close_fd(*fd);
        r.error = std::string("fork: ") + strerror(fork_errno);
        return r;
    }
    // EOF at execve (the pipe is close-on-exec), a ChildFailure if a step failed first.
    ChildFailure failure{};
    ssize_t n;
    while ((n = read(report_pipe[0], &failure, sizeof failure)) < 0 && errno == EINTR) {
    }
    close_fd(report_pipe[0]);
    if (n == ssize_t(sizeof failure)) {
        reap(pid);
        close_fd(out_pipe[0]);
        close_fd(err_pipe[0]);
        r.error = describe_child_failure(failure, argv, view, mount_ns_path, tmpfs_dir);
        return r;
    }
    collect(pid, out_pipe[0], err_pipe[0], timeout, r);
    return r;
}

}  // namespace synwhy::host
