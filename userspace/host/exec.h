// Running a helper program (sshd -T): execve with an absolute path, no shell, bounded in time.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace synwhy::host {

struct ExecResult {
    bool started = false;    // false: the program could not be executed (see error)
    bool timed_out = false;  // killed after the timeout
    int exit_code = -1;      // exit status, or -signal
    std::string out, err;
    std::string error;
};

// argv[0] must be an absolute path. The child gets an empty environment but PATH=/usr/sbin:/usr/bin:/sbin:/bin.
ExecResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// Where a program of synwhy's own mount namespace runs when the files it needs are not all there.
// The child is forked and set up before execve; whatever it changes dies with it. There is no view
// of another mount namespace on purpose: synwhy never runs a container's programs (they would run
// with synwhy's privileges in the host's other namespaces).
struct ExecView {
    // A directory the program needs and the host lacks (sshd's /run/sshd): the child gets a private
    // mount namespace with a small tmpfs on the directory's parent, holding it (root's, 0755).
    std::string private_dir;
};

// run_program in `view`. A view that cannot be set up gives started=false and the step that
// failed in error ("mounting a tmpfs on /run: Operation not permitted"); a setup that outlasts the
// timeout gives started=false and timed_out, the child killed and reaped.
ExecResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                       const ExecView& view);

}  // namespace synwhy::host
