// What sshd tells synwhy: `sshd -T` output (parse_sshd_T), `sshd -t` stderr (first_sshd_error_line)
// and an sshd's /proc/PID/cmdline (sshd_config_path_from_cmdline, sshd_cmdline_is_daemon).
// First byte: which one (0, 1, 2 modulo 3); the rest is the text.
#include <algorithm>
#include <set>

#include "fuzz_common.h"
#include "host/procfs.h"
#include "host/snapshot.h"

using namespace synwhy;
namespace host = synwhy::host;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text = fuzz::rest_as_text(data, size);
    switch (data[0] % 3) {
    case 0: {
        SshdConfig c = host::parse_sshd_T(text);
        FUZZ_CHECK(c.ok == (!c.ports.empty() || !c.listen_addresses.empty()));
        FUZZ_CHECK(c.ok == c.error.empty());
        FUZZ_CHECK(std::set<uint16_t>(c.ports.begin(), c.ports.end()).size() == c.ports.size());
        FUZZ_CHECK(std::find(c.ports.begin(), c.ports.end(), 0) == c.ports.end());
        for (const auto& a : c.listen_addresses) FUZZ_CHECK(!a.empty() && text.find(a) != std::string::npos);
        FUZZ_CHECK(c.address_family.empty() || text.find(c.address_family) != std::string::npos);
        break;
    }
    case 1: {
        std::string line = host::first_sshd_error_line(text);
        FUZZ_CHECK(text.find(line) != std::string::npos);
        FUZZ_CHECK(line.find('\n') == std::string::npos);
        if (!line.empty()) {
            FUZZ_CHECK(line.find_first_of(" \t\r\n") != 0);
            FUZZ_CHECK(std::string(" \t\r\n").find(line.back()) == std::string::npos);
        }
        break;
    }
    case 2: {
        auto argv = host::procfs::split_cmdline(text);
        std::string path = host::sshd_config_path_from_cmdline(argv);
        FUZZ_CHECK(!path.empty());
        FUZZ_CHECK(path == "/etc/ssh/sshd_config" || text.find(path) != std::string::npos);
        bool daemon = host::sshd_cmdline_is_daemon(argv);
        if (argv.empty()) FUZZ_CHECK(!daemon);
        break;
    }
    }
    return 0;
}
