// run_program: posix_spawn (no shell), stdout/stderr through pipes, a poll loop bounded by the
// timeout, SIGKILL to the child's process group on timeout, and always a reap. In an ExecView, a
// forked child sets up its private mount namespace first and reports a failed step through a
// close-on-exec pipe, read within the same timeout.
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

// A pipe made while fd 0, 1 or 2 is closed would take that number, and the child's dup2 onto its
// stdio would then close or clobber it: any of the three that is missing becomes /dev/null.
void ensure_standard_fds() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int opened = open("/dev/null", O_RDWR);
        if (opened >= 0 && opened != fd) close(opened);  // another thread took fd first: nothing to fill
    }
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

// Out of time: kill the whole group (the child leads it, or is about to) and the child, then reap it.
int kill_and_reap(pid_t pid) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    return reap(pid);
}

std::string timed_out_text(std::chrono::milliseconds timeout) {
    return "timed out after " + std::to_string(timeout.count()) + " ms";
}

// Reads the child's output until it exits or `deadline` (monotonic_ms) passes; kills its process
// group on timeout and always reaps it. Closes out_fd and err_fd.
void collect(pid_t pid, int out_fd, int err_fd, int64_t deadline, std::chrono::milliseconds timeout, ExecResult& r) {
    r.started = true;
    // A pidfd tells when the child exits without polling waitpid; if the kernel has none, poll
    // with a short period instead.
    int pidfd = open_pidfd(pid);
    bool exited = false;
    int status_code = -1;

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
        r.timed_out = true;
        status_code = kill_and_reap(pid);
    }
    // If the child exited but something it forked still holds the pipes, stop reading anyway.
    close_fd(out_fd);
    close_fd(err_fd);
    close_fd(pidfd);
    r.exit_code = status_code;
    if (r.timed_out) r.error = timed_out_text(timeout);
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
    ensure_standard_fds();
    const int64_t deadline = monotonic_ms() + timeout.count();
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
    collect(pid, out_pipe[0], err_pipe[0], deadline, timeout, r);
    return r;
}

namespace {

// The steps a forked child takes before execve; a failed one is written to the report pipe.
enum class ChildStep : int { stdio = 1, unshare, private_mounts, mount_tmpfs, make_dir, exec };
struct ChildFailure {
    ChildStep step;
    int err;
};

// Everything the child needs, prepared before fork: between fork and execve in a threaded process
// only async-signal-safe calls are allowed (no allocation).
struct ChildPlan {
    char* const* argv = nullptr;
    int out_fd = -1, err_fd = -1, report_fd = -1;
    const char* tmpfs_dir = nullptr;  // the private directory's parent
    const char* private_dir = nullptr;
};

[[noreturn]] void child_failed(int report_fd, ChildStep step) {
    ChildFailure f{step, errno};
    ssize_t ignored = write(report_fd, &f, sizeof f);
    (void)ignored;
    _exit(127);
}

// Default dispositions, then an empty mask: the parent blocked every signal across fork, so none
// could run one of its handlers in the child before this.
void reset_signals() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // SIGKILL/SIGSTOP: EINVAL, fine
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

// The directory, in a mount namespace of the child's own: unshared and made private before the
// tmpfs is mounted, so that the tmpfs propagates to no peer mount of the host.
void make_private_dir(const ChildPlan& p) {
    if (unshare(CLONE_NEWNS) != 0) child_failed(p.report_fd, ChildStep::unshare);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        child_failed(p.report_fd, ChildStep::private_mounts);
    if (mount("synwhy", p.tmpfs_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") != 0)
        child_failed(p.report_fd, ChildStep::mount_tmpfs);
    if (mkdir(p.private_dir, 0755) != 0 || chmod(p.private_dir, 0755) != 0)
        child_failed(p.report_fd, ChildStep::make_dir);
}

[[noreturn]] void run_child(const ChildPlan& p) {
    setpgid(0, 0);  // its own group: a timeout kills whatever it forks too
    reset_signals();
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(p.out_fd, 1) < 0 || dup2(p.err_fd, 2) < 0)
        child_failed(p.report_fd, ChildStep::stdio);
    make_private_dir(p);
    // Only 0-2 and the report pipe (closed by execve) reach the program.
    if (p.report_fd != 3 && dup2(p.report_fd, 3) < 0) child_failed(p.report_fd, ChildStep::stdio);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    if (close_range(4, ~0U, 0) != 0)
        for (int fd = 4; fd < 1024; ++fd) close(fd);
    execve(p.argv[0], p.argv, child_envp);
    child_failed(3, ChildStep::exec);
}

// fork, not posix_spawn: the child changes its mount namespace before execve. Every signal is
// blocked across fork (the child unblocks them after resetting the handlers).
pid_t fork_child(const ChildPlan& plan) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) run_child(plan);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = fork_errno;
    return pid;
}

enum class SetupOutcome { execed, step_failed, timed_out, lost };

// The child's report by `deadline`: EOF at execve (the pipe is close-on-exec), a ChildFailure if
// a step failed first, nothing while a step hangs (a mount on a hung filesystem).
SetupOutcome wait_for_setup(int report_fd, int64_t deadline, ChildFailure& failure, int& error) {
    for (;;) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) return SetupOutcome::timed_out;
        struct pollfd pfd {report_fd, POLLIN, 0};
        int rc = poll(&pfd, 1, int(std::min<int64_t>(left, 1 << 30)));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) {
            error = errno;
            return SetupOutcome::lost;
        }
        if (rc == 0) continue;  // the deadline is checked above
        ssize_t n = read(report_fd, &failure, sizeof failure);
        if (n < 0 && errno == EINTR) continue;
        return n == ssize_t(sizeof failure) ? SetupOutcome::step_failed : SetupOutcome::execed;
    }
}

std::string describe_child_failure(const ChildFailure& f, const std::vector<std::string>& argv, const ExecView& view,
                                   const std::string& tmpfs_dir) {
    std::string what;
    switch (f.step) {
        case ChildStep::stdio: what = "redirecting stdio"; break;
        case ChildStep::unshare: what = "making a private mount namespace"; break;
        case ChildStep::private_mounts: what = "making the mounts private"; break;
        case ChildStep::mount_tmpfs: what = "mounting a tmpfs on " + tmpfs_dir; break;
        case ChildStep::make_dir: what = "making " + view.private_dir; break;
        case ChildStep::exec: what = argv[0]; break;
    }
    return what + ": " + strerror(f.err);
}

std::string parent_dir(const std::string& dir) {
    auto slash = dir.find_last_of('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return dir.substr(0, slash);
}

}  // namespace

ExecResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                       const ExecView& view) {
    if (view.private_dir.empty()) return run_program(argv, timeout);
    ExecResult r;
    if (!valid_argv(argv, r)) return r;
    if (access(argv[0].c_str(), X_OK) != 0) {
        r.error = argv[0] + ": " + strerror(errno);
        return r;
    }
    const std::string tmpfs_dir = parent_dir(view.private_dir);
    if (view.private_dir[0] != '/' || tmpfs_dir == "/") {
        r.error = "refusing a private directory at " + view.private_dir + " (a tmpfs would hide " + tmpfs_dir + ")";
        return r;
    }
    auto cargv = c_argv(argv);
    ensure_standard_fds();
    const int64_t deadline = monotonic_ms() + timeout.count();
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, report_pipe[2] = {-1, -1};
    if (!make_output_pipes(out_pipe, err_pipe, r.error) || pipe2(report_pipe, O_CLOEXEC) != 0) {
        if (r.error.empty()) r.error = std::string("pipe: ") + strerror(errno);
        for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}) close_fd(*fd);
        return r;
    }
    ChildPlan plan;
    plan.argv = cargv.data();
    plan.out_fd = out_pipe[1];
    plan.err_fd = err_pipe[1];
    plan.report_fd = report_pipe[1];
    plan.tmpfs_dir = tmpfs_dir.c_str();
    plan.private_dir = view.private_dir.c_str();
    pid_t pid = fork_child(plan);
    int fork_errno = errno;
    for (int* fd : {&out_pipe[1], &err_pipe[1], &report_pipe[1]}) close_fd(*fd);
    if (pid < 0) {
        for (int* fd : {&out_pipe[0], &err_pipe[0], &report_pipe[0]}) close_fd(*fd);
        r.error = std::string("fork: ") + strerror(fork_errno);
        return r;
    }
    ChildFailure failure{};
    int wait_error = 0;
    SetupOutcome setup = wait_for_setup(report_pipe[0], deadline, failure, wait_error);
    close_fd(report_pipe[0]);
    if (setup == SetupOutcome::execed) {
        collect(pid, out_pipe[0], err_pipe[0], deadline, timeout, r);
        return r;
    }
    if (setup == SetupOutcome::step_failed) {
        reap(pid);
        r.error = describe_child_failure(failure, argv, view, tmpfs_dir);
    } else {
        kill_and_reap(pid);
        r.timed_out = setup == SetupOutcome::timed_out;
        r.error = r.timed_out ? "setting up a private " + view.private_dir + " " + timed_out_text(timeout)
                              : std::string("waiting for the child's set-up: ") + strerror(wait_error);
    }
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    return r;
}

}  // namespace synwhy::host
