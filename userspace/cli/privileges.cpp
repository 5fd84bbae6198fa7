#include "cli/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "host/procfs.h"

namespace synwhy::cli {

namespace {

// The names this build knows, by number (CAP_CHECKPOINT_RESTORE = 40 is the last in 6.x).
constexpr const char* names[] = {
    "CAP_CHOWN",        "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",          "CAP_FSETID",
    "CAP_KILL",         "CAP_SETGID",       "CAP_SETUID",          "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",  "CAP_NET_RAW",         "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",    "CAP_SYS_MODULE",   "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",    "CAP_SYS_ADMIN",    "CAP_SYS_BOOT",        "CAP_SYS_NICE",        "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",     "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",         "CAP_LEASE",           "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP",     "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",       "CAP_SYSLOG",
    "CAP_WAKE_ALARM",   "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};

struct CapSets {
    uint64_t effective = 0, permitted = 0, inheritable = 0;
};

bool get_caps(CapSets& s) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &hdr, d) != 0) return false;
    s.effective = d[0].effective | uint64_t(d[1].effective) << 32;
    s.permitted = d[0].permitted | uint64_t(d[1].permitted) << 32;
    s.inheritable = d[0].inheritable | uint64_t(d[1].inheritable) << 32;
    return true;
}

bool set_caps(const CapSets& s) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    d[0] = {uint32_t(s.effective), uint32_t(s.permitted), uint32_t(s.inheritable)};
    d[1] = {uint32_t(s.effective >> 32), uint32_t(s.permitted >> 32), uint32_t(s.inheritable >> 32)};
    return syscall(SYS_capset, &hdr, d) == 0;
}

int last_capability() {
    std::string line = host::procfs::read_line("/proc/sys/kernel/cap_last_cap");
    char* end = nullptr;
    long n = strtol(line.c_str(), &end, 10);
    return end != line.c_str() && n > 0 && n < 64 ? int(n) : CAP_LAST_CAP;
}

}  // namespace

bool has_capability(int cap) {
    CapSets now;
    return cap >= 0 && cap < 64 && get_caps(now) && ((now.effective >> cap) & 1);
}

std::string capability_name(int cap) {
    if (cap >= 0 && size_t(cap) < std::size(names)) return names[cap];
    return fmt::format("CAP_{}", cap);
}

std::vector<int> capabilities_kept_after_attach(const PrivilegeNeeds& needs) {
    std::vector<int> keep = {cap::dac_read_search, cap::net_admin, cap::sys_ptrace, cap::sys_admin, cap::syslog};
    if (needs.legacy_counters) keep.push_back(cap::net_raw);
    if (needs.metrics_file) keep.push_back(cap::dac_override);
    std::sort(keep.begin(), keep.end());
    return keep;
}

bool drop_capabilities(const std::vector<int>& keep, PrivilegeDrop& result, std::string& error) {
    CapSets now;
    if (!get_caps(now)) {
        error = fmt::format("capget: {}", strerror(errno));
        return false;
    }
    uint64_t keep_mask = 0;
    for (int c : keep) keep_mask |= 1ULL << c;
    keep_mask &= now.permitted;  // nothing can be gained, only kept

    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
    result.bounding_set_dropped = (now.effective >> cap::setpcap) & 1;
    if (result.bounding_set_dropped) {
        for (int c = 0; c <= last_capability(); c++)
            if (!((keep_mask >> c) & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
                error = fmt::format("dropping {} from the bounding set: {}", capability_name(c), strerror(errno));
                return false;
            }
    }
    // Ambient capabilities would survive an execve: none (EINVAL: a kernel without them).
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        error = fmt::format("clearing ambient capabilities: {}", strerror(errno));
        return false;
    }
    if (!set_caps({keep_mask, keep_mask, 0})) {
        error = fmt::format("capset: {}", strerror(errno));
        return false;
    }
    // What it runs can never gain more than this (setuid or file-capability binaries included).
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        error = fmt::format("no_new_privs: {}", strerror(errno));
        return false;
    }
    result.kept.clear();
    for (int c = 0; c < 64; c++)
        if ((keep_mask >> c) & 1) result.kept.push_back(capability_name(c));
    return true;
}

}  // namespace synwhy::cli
