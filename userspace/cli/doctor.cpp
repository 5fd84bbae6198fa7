// `synwhy doctor`: the kernel, its BTF, each tracepoint synwhy uses (found, with which variant,
// or missing), whether the programs load and attach, nft trace, kallsyms, lockdown and the
// privileges at hand. What a user pastes into a bug report; exit 0 when synwhy can trace here.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "capture/packet_socket.h"
#include "cli/options.h"
#include "cli/privileges.h"
#include "cli/session.h"
#include "diagnosis/drop_fallback.h"
#include "host/procfs.h"
#include "firewall/nft_trace.h"
#include "tracer/tracer.h"

namespace synwhy::cli {

namespace {

// Per-CPU symbols sit at address 0 on some kernels: look at the first text symbols instead.
bool kallsyms_readable() {
    std::ifstream f("/proc/kallsyms");
    std::string addr, type, name;
    for (int i = 0; i < 5000 && f >> addr >> type >> name; i++) {
        f.ignore(4096, '\n');
        if (type == "T" || type == "t") return addr.find_first_not_of('0') != std::string::npos;
    }
    return false;
}

// "missing -> stand-in"; for drop reasons, the table that reads a drop's place.
nlohmann::json fallbacks_of(const Tracer& tracer) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : tracer.fallbacks()) {
        bool drops = f.gap == kernel::SignalFallback::Gap::drop_reason || f.gap == kernel::SignalFallback::Gap::netfilter_reason;
        out.push_back({{"missing", f.missing},
                       {"stand_in", drops ? f.stand_in + " (" + describe_drop_fallbacks() + ")" : f.stand_in}});
    }
    return out;
}

std::vector<std::string> effective_capabilities() {
    static const int wanted[] = {cap::bpf,        cap::perfmon,         cap::net_admin, cap::net_raw,
                                 cap::sys_admin,  cap::sys_ptrace,      cap::dac_read_search, cap::syslog};
    std::vector<std::string> have;
    for (int c : wanted)
        if (has_capability(c)) have.push_back(capability_name(c));
    return have;
}

}  // namespace

int run_doctor(const CaptureOptions& o) {
    nlohmann::json j;
    struct utsname u {};
    uname(&u);
    j["synwhy"] = SYNWHY_VERSION;
    j["kernel"] = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
    j["libbpf"] = fmt::format("{}.{}", libbpf_major_version(), libbpf_minor_version());
    struct stat st {};
    bool btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;
    j["btf"] = btf ? fmt::format("/sys/kernel/btf/vmlinux ({} bytes)", st.st_size) : "missing";
    std::string lockdown = host::procfs::read_line("/sys/kernel/security/lockdown");
    j["lockdown"] = lockdown.empty() ? "not available" : lockdown;
    j["kptr_restrict"] = host::procfs::read_line("/proc/sys/kernel/kptr_restrict");
    j["uid"] = getuid();
    j["capabilities"] = effective_capabilities();
    {
        std::vector<std::string> kept;
        for (int c : capabilities_kept_after_attach({true, false})) kept.push_back(capability_name(c));
        j["capabilities_after_attach"] = kept;  // with iptables-legacy present, without --metrics-file
    }

    // The real test: open, adapt to this kernel, load and attach, then detach.
    std::string error;
    bool can_trace = false;
    {
        auto tracer = Tracer::start({{22}, 0, false, {}}, error);
        can_trace = tracer != nullptr;
        nlohmann::json tps = nlohmann::json::array();
        if (tracer)
            for (const auto& c : tracer->capabilities())
                tps.push_back({{"signal", c.name}, {"available", c.available}, {"detail", c.detail}});
        j["tracepoints"] = tps;
        j["fallbacks"] = tracer ? fallbacks_of(*tracer) : nlohmann::json::array();
        j["drop_reasons"] = tracer ? tracer->drop_reason_names().size() : 0;
        j["load_and_attach"] = tracer ? "ok" : error;
    }
    j["kallsyms"] = kallsyms_readable() ? "readable" : "addresses hidden (need root / CAP_SYSLOG)";
    {
        std::string nft_error;
        auto nft = firewall::NftTraceSession::start({22}, 0, nft_error);
        j["nft_trace"] = nft ? "ok (table " + nft->table_name() + " added and removed)" : nft_error;
    }
    j["can_trace"] = can_trace;
    // The capture without BPF (--no-bpf, and the fallback when BPF cannot load): a packet socket.
    {
        std::string packet_error;
        auto packets = capture::PacketCapture::open({22}, packet_error);
        j["packet_socket"] = packets ? std::string("ok (the capture without BPF: --no-bpf, and the fallback)") : packet_error;
        j["can_capture"] = can_trace || packets != nullptr;
        j["capture"] = can_trace ? "bpf" : packets ? "packet-socket" : "none";
    }

    if (o.json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << fmt::format("synwhy {}\n", SYNWHY_VERSION);
        for (const char* k : {"kernel", "libbpf", "btf", "lockdown", "kptr_restrict", "kallsyms", "load_and_attach", "nft_trace", "packet_socket"})
            std::cout << fmt::format("{:<16} {}\n", k, j[k].is_string() ? j[k].get<std::string>() : j[k].dump());
        std::string caps;
        for (const auto& c : j["capabilities"]) caps += (caps.empty() ? "" : " ") + c.get<std::string>();
        std::cout << fmt::format("{:<16} uid {}; {}\n", "privileges", getuid(), caps.empty() ? "no capabilities" : caps);
        std::string after;
        for (const auto& c : j["capabilities_after_attach"]) after += (after.empty() ? "" : " ") + c.get<std::string>();
        std::cout << fmt::format("{:<16} keeps {} once attached (CAP_NET_RAW only for iptables-legacy), drops the rest\n",
                                 "", after);
        std::cout << fmt::format("{:<16} {} names from this kernel's BTF\n", "drop reasons", j["drop_reasons"].dump());
        std::cout << "tracepoints:\n";
        for (const auto& t : j["tracepoints"])
            std::cout << fmt::format("  {:<3} {:<62} {}\n", t["available"].get<bool>() ? "ok" : "--",
                                     t["signal"].get<std::string>(), t["detail"].get<std::string>());
        if (can_trace)
            std::cout << (j["fallbacks"].empty() ? "fallbacks        none: this kernel gives every signal synwhy reads\n"
                                                 : "fallbacks in use on this kernel:\n");
        for (const auto& f : j["fallbacks"])
            std::cout << fmt::format("  no {} -> {}\n", f["missing"].get<std::string>(), f["stand_in"].get<std::string>());
        if (can_trace)
            std::cout << "synwhy can trace here (BPF; a packet socket is the fallback, --no-bpf)\n";
        else if (j["can_capture"].get<bool>())
            std::cout << "synwhy cannot trace here with BPF: " << error
                      << "; it captures with a packet socket instead (less detail: no kernel drop reasons)\n";
        else
            std::cout << "synwhy cannot trace here: " << error << "; " << j["packet_socket"].get<std::string>() << "\n";
    }
    return j["can_capture"].get<bool>() ? exit_ok : exit_cannot_trace;
}

}  // namespace synwhy::cli
