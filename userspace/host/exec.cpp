// run_program: posix_spawn (no shell), stdout/stderr through pipes, a poll loop bounded by the
// timeout, SIGKILL to the child's process group on timeout, and always a reap.
#include "host/exec.h"

#include <fcntl.h>
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

ExecResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    ExecResult r;
    if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
        r.error = "program path must be absolute";
        return r;
    }
    if (access(argv[0].c_str(), X_OK) != 0) {
        r.error = argv[0] + ": " + strerror(errno);
        return r;
    }

    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* envp[] = {path_env, nullptr};

    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        r.error = std::string("pipe: ") + strerror(errno);
        for (int& fd : out_pipe) close_fd(fd);
        return r;
    }
    // The child's ends must block: the program does not expect non-blocking stdio.
    fcntl(out_pipe[1], F_SETFL, 0);
    fcntl(err_pipe[1], F_SETFL, 0);

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
            spawn_rc = posix_spawn(&pid, argv[0].c_str(), s.actions(), s.attr(), cargv.data(), envp);
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
    r.started = true;

    // A pidfd tells when the child exits without polling waitpid; if the kernel has none, poll
    // with a short period instead.
    int pidfd = open_pidfd(pid);
    bool exited = false;
    int status_code = -1;
    const int64_t deadline = monotonic_ms() + timeout.count();

    while (out_pipe[0] >= 0 || err_pipe[0] >= 0 || !exited) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) break;
        struct pollfd pfds[3];
        int n = 0, out_i = -1, err_i = -1, pid_i = -1;
        if (out_pipe[0] >= 0) pfds[out_i = n++] = {out_pipe[0], POLLIN, 0};
        if (err_pipe[0] >= 0) pfds[err_i = n++] = {err_pipe[0], POLLIN, 0};
        if (!exited && pidfd >= 0) pfds[pid_i = n++] = {pidfd, POLLIN, 0};
        int wait_ms = int(std::min<int64_t>(left, (!exited && pidfd < 0) ? 20 : left));
        int rc = poll(pfds, nfds_t(n), wait_ms);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0) {
            if (out_i >= 0 && pfds[out_i].revents) drain(out_pipe[0], r.out);
            if (err_i >= 0 && pfds[err_i].revents) drain(err_pipe[0], r.err);
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
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    close_fd(pidfd);
    r.exit_code = status_code;
    if (r.timed_out) r.error = "timed out after " + std::to_string(timeout.count()) + " ms";
    return r;
}

}  // namespace synwhy::host
