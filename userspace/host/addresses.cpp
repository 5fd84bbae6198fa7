// Local addresses and legacy iptables state of the calling thread's netns.
#include "host/snapshot.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "host/procfs.h"

namespace synwhy::host {

std::vector<IpAddr> list_local_addresses(std::string& error) {
    std::vector<IpAddr> out;
    error.clear();
    struct ifaddrs* list = nullptr;
    // getifaddrs asks rtnetlink through a socket of the calling thread, hence its netns.
    if (getifaddrs(&list) != 0) {
        error = std::string("getifaddrs: ") + strerror(errno);
        return out;
    }
    for (struct ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        IpAddr a;
        if (i->ifa_addr->sa_family == AF_INET) {
            a.family = Family::ipv4;
            std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            a.family = Family::ipv6;
            std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        // The same address on two interfaces (or twice with different prefixes) counts once.
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    freeifaddrs(list);
    return out;
}

bool iptables_legacy_tables_present() {
    // thread-self, not /proc/net (= /proc/self/net): the latter shows the main thread's netns, not
    // the one this thread may have entered with setns.
    // Kernels before 3.17 have no thread-self; there, /proc/net is the best there is.
    std::string dir = access("/proc/thread-self", F_OK) == 0 ? "/proc/thread-self/net/" : "/proc/net/";
    for (const char* name : {"ip_tables_names", "ip6_tables_names"}) {
        // Absent until a legacy table is registered (module not loaded): nothing there then.
        auto text = procfs::read_file(dir + name);
        if (text && text->find_first_not_of(" \t\n") != std::string::npos) return true;
    }
    return false;
}

}  // namespace synwhy::host
