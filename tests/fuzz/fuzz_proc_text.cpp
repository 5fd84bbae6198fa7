// /proc text: /proc/PID/stat (parse_stat), /proc/PID/cmdline (split_cmdline), /proc/net/netstat
// (parse_tcpext_listen_counters), /proc/PID/cgroup (container_from_cgroup) and /proc/kallsyms
// (Kallsyms::parse, symbolize). First byte: which one (modulo 5); the rest is the file's text.
#include <cctype>

#include "fuzz_common.h"
#include "host/procfs.h"
#include "host/snapshot.h"
#include "kernel/kallsyms.h"

namespace host = synwhy::host;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text = fuzz::rest_as_text(data, size);
    switch (data[0] % 5) {
    case 0: {
        auto st = host::procfs::parse_stat(text);
        if (st) {
            auto open = text.find('('), close = text.rfind(')');
            FUZZ_CHECK(open != std::string::npos && close != std::string::npos && open < close);
            FUZZ_CHECK(st->comm == text.substr(open + 1, close - open - 1));
            FUZZ_CHECK(st->state != ' ' && st->state != '\0');
        }
        break;
    }
    case 1: {
        auto argv = host::procfs::split_cmdline(text);
        size_t total = 0;
        for (const auto& a : argv) {
            FUZZ_CHECK(a.find('\0') == std::string::npos);
            total += a.size();
        }
        FUZZ_CHECK(total + (argv.empty() ? 0 : argv.size() - 1) <= text.size());
        if (!argv.empty()) FUZZ_CHECK(!argv.back().empty());
        break;
    }
    case 2: {
        uint64_t overflows = ~0ULL, drops = ~0ULL;
        bool ok = host::parse_tcpext_listen_counters(text, overflows, drops);
        if (ok) FUZZ_CHECK(text.find("TcpExt:") != std::string::npos && text.find("ListenDrops") != std::string::npos);
        break;
    }
    case 3: {
        std::string c = host::container_from_cgroup(text);
        if (!c.empty()) {
            auto space = c.find(' ');
            FUZZ_CHECK(space != std::string::npos);
            std::string runtime = c.substr(0, space), id = c.substr(space + 1);
            FUZZ_CHECK(runtime == "docker" || runtime == "podman" || runtime == "containerd" || runtime == "cri-o");
            FUZZ_CHECK(id.size() == 12);
            for (char ch : id) FUZZ_CHECK(std::isxdigit(static_cast<unsigned char>(ch)));
        }
        break;
    }
    case 4: {
        auto k = synwhy::kernel::Kallsyms::parse(text);
        for (uint64_t addr : {0ULL, 1ULL, 0xffffffff81000000ULL, ~0ULL}) {
            std::string s = k.symbolize(addr);
            FUZZ_CHECK(!s.empty());
            if (k.empty()) FUZZ_CHECK(s.rfind("0x", 0) == 0);
        }
        break;
    }
    }
    return 0;
}
