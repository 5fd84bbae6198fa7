// synwhy: the thin entry point; everything else is in synwhy_lib.
#include "cli/options.h"
#include "cli/session.h"

int main(int argc, char** argv) {
    synwhy::cli::CaptureOptions options;
    if (auto status = synwhy::cli::parse_command_line(argc, argv, options)) return *status;
    if (options.mode == synwhy::cli::Mode::doctor) return synwhy::cli::run_doctor(options);
    if (options.mode == synwhy::cli::Mode::probe) return synwhy::cli::run_probe(options);  // no BPF, no root
    int status = 0;
    auto session = synwhy::cli::Session::open(options, status);
    if (!session) return status;
    return options.mode == synwhy::cli::Mode::watch ? synwhy::cli::run_watch(*session)
                                                    : synwhy::cli::run_report(*session);
}
