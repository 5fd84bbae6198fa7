// Least privilege: once the programs are loaded and attached and the nft trace table exists,
// synwhy keeps only the capabilities its later reads need (snapshots, rule text, other
// namespaces, kallsyms) and drops the rest from its effective, permitted, inheritable, ambient and
// bounding sets, with no_new_privs set, so that neither it nor what it runs (sshd -T,
// iptables-legacy-save) can use them again.
#pragma once

#include <string>
#include <vector>

namespace synwhy::cli {

// Capability numbers (linux/capability.h), named here so that the lists below read as text.
namespace cap {
inline constexpr int dac_override = 1, dac_read_search = 2, net_admin = 12, net_raw = 13, sys_ptrace = 19,
                     sys_admin = 21, sys_resource = 24, perfmon = 38, bpf = 39, syslog = 34, setpcap = 8;
}

// Whether the calling thread has the capability (CAP_* number) in its effective set.
bool has_capability(int cap);

// "CAP_NET_ADMIN" for 12; "CAP_40" for a number this build has no name for.
std::string capability_name(int cap);

struct PrivilegeNeeds {
    bool legacy_counters = false;  // iptables-legacy-save -c is read again after a drop
    bool metrics_file = false;     // watch --metrics-file replaces a file, maybe in another user's directory
};

// What is kept after attaching, and why (pure, unit-tested):
//   CAP_SYS_ADMIN        setns into other namespaces (other-netns, --all-netns snapshots); BPF
//                        map reads on kernels that check bpf_capable() for every bpf() call
//   CAP_NET_ADMIN        nft rule text (libnftables list), iptables-legacy-save
//   CAP_SYS_PTRACE       /proc/PID/fd, exe and ns/net of other processes (listener owners)
//   CAP_DAC_READ_SEARCH  sshd_config and /proc files of other users
//   CAP_SYSLOG           real addresses in /proc/kallsyms (the function where a packet died)
//   CAP_NET_RAW          iptables-legacy-save (only when legacy counters are read)
//   CAP_DAC_OVERRIDE     the metrics file's directory (only with --metrics-file)
// CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE and everything else go.
std::vector<int> capabilities_kept_after_attach(const PrivilegeNeeds& needs);

struct PrivilegeDrop {
    std::vector<std::string> kept;     // names, of those this process had
    bool bounding_set_dropped = false; // false without CAP_SETPCAP (e.g. a unit's bounding set)
};

// Applies the drop to the calling thread: call it while the process has no other thread. False
// with `error` when the kernel refused (the process then carries on with what it had).
bool drop_capabilities(const std::vector<int>& keep, PrivilegeDrop& result, std::string& error);

}  // namespace synwhy::cli
