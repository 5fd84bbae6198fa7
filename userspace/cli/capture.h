// The capture: attach, read the kernel's events, keep host snapshots, and print (watch) or
// diagnose at the end (report). Returns the process exit status.
#pragma once

#include "cli/options.h"

namespace synwhy::cli {

int run_capture(const CaptureOptions& options);

}  // namespace synwhy::cli
