// synwhy: the thin entry point; everything else is in synwhy_lib.
#include "cli/capture.h"
#include "cli/options.h"

int main(int argc, char** argv) {
    synwhy::cli::CaptureOptions options;
    if (auto status = synwhy::cli::parse_command_line(argc, argv, options)) return *status;
    return synwhy::cli::run_capture(options);
}
