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

}  // namespace synwhy::host
