// TCP listeners from NETLINK_SOCK_DIAG (the netns of the calling thread) and the processes that
// hold them (/proc/*/fd).
#include "host/snapshot.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "host/procfs.h"

namespace synwhy::host {

namespace {

// A listener's command line is evidence, not a dump: a proxy's flags fit well within this.
constexpr size_t max_cmdline_bytes = 512;

struct DumpState {
    std::vector<Listener>* out;
};

int on_attr(const struct nlattr* attr, void* data) {
    auto* v6only = static_cast<int*>(data);
    if (mnl_attr_get_type(attr) == INET_DIAG_SKV6ONLY && mnl_attr_validate(attr, MNL_TYPE_U8) >= 0)
        *v6only = mnl_attr_get_u8(attr);
    return MNL_CB_OK;
}

int on_msg(const struct nlmsghdr* nlh, void* data) {
    auto* st = static_cast<DumpState*>(data);
    Listener l;
    if (parse_inet_diag_listener(nlh, l)) st->out->push_back(l);
    return MNL_CB_OK;
}

// One dump for one family; appends to out, returns "" or an error.
std::string dump_family(struct mnl_socket* nl, uint8_t family, uint32_t seq, std::vector<Listener>& out) {
    // Dump replies come in skbs of up to 32 KiB; a smaller buffer would truncate them.
    std::vector<char> buffer(1 << 16);
    char* buf = buffer.data();
    struct nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    auto* req = static_cast<struct inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct inet_diag_req_v2)));
    req->sdiag_family = family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = 1u << TCP_LISTEN;

    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return std::string("sock_diag send: ") + strerror(errno);
    const unsigned portid = mnl_socket_get_portid(nl);
    DumpState st{&out};
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::string("sock_diag receive: ") + strerror(errno);
        }
        int rc = mnl_cb_run(buf, size_t(n), seq, portid, on_msg, &st);
        if (rc == MNL_CB_STOP) return "";
        if (rc < 0) return std::string("sock_diag: ") + strerror(errno);
    }
}

}  // namespace

bool parse_inet_diag_listener(const struct nlmsghdr* nlh, Listener& out) {
    if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) return false;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct inet_diag_msg)) return false;
    const auto* msg = static_cast<const struct inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
    if (msg->idiag_state != TCP_LISTEN) return false;

    Listener l;
    if (msg->idiag_family == AF_INET) {
        l.addr.family = Family::ipv4;
        std::memcpy(l.addr.bytes.data(), msg->id.idiag_src, 4);
    } else if (msg->idiag_family == AF_INET6) {
        l.addr.family = Family::ipv6;
        std::memcpy(l.addr.bytes.data(), msg->id.idiag_src, 16);
    } else {
        return false;
    }
    l.port = ntohs(msg->id.idiag_sport);
    l.backlog = msg->idiag_wqueue;
    l.accept_queue = msg->idiag_rqueue;
    l.inode = msg->idiag_inode;
    // The kernel adds INET_DIAG_SKV6ONLY to every AF_INET6 socket, no idiag_ext bit needed.
    int v6only = 0;
    mnl_attr_parse(nlh, sizeof(struct inet_diag_msg), on_attr, &v6only);
    l.v6only = l.addr.family == Family::ipv6 && v6only != 0;
    out = std::move(l);
    return true;
}

std::vector<Listener> list_tcp_listeners(std::string& error) {
    std::vector<Listener> out;
    error.clear();
    // The socket is created in the calling thread's netns, and that is the one sock_diag reports.
    struct mnl_socket* nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
    if (!nl) {
        error = std::string("cannot open NETLINK_SOCK_DIAG: ") + strerror(errno);
        return out;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        error = std::string("cannot bind NETLINK_SOCK_DIAG: ") + strerror(errno);
        mnl_socket_close(nl);
        return out;
    }
    uint32_t seq = uint32_t(time(nullptr));
    std::string e4 = dump_family(nl, AF_INET, seq, out);
    std::string e6 = dump_family(nl, AF_INET6, seq + 1, out);
    mnl_socket_close(nl);
    // Whatever one family found is kept even when the other failed.
    if (!e4.empty()) error = "IPv4: " + e4;
    if (!e6.empty()) error += (error.empty() ? "" : "; ") + std::string("IPv6: ") + e6;
    return out;
}

std::string cmdline_text(const std::string& raw, size_t max_bytes) {
    std::string text = raw.substr(0, max_bytes);
    for (char& c : text)
        if (c == '\0') c = ' ';
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

std::string unit_from_cgroup(const std::string& cgroup_text) {
    // cgroup v2 "0::/system.slice/ssh.service"; v1 has systemd's tree as "N:name=systemd:/...".
    // The deepest unit in the path: a user service under user@1000.service, a delegated service's
    // own sub-groups below it. Slices only group units.
    std::string path, v1_path;
    size_t start = 0;
    while (start < cgroup_text.size()) {
        size_t end = cgroup_text.find('\n', start);
        if (end == std::string::npos) end = cgroup_text.size();
        std::string_view line(cgroup_text.data() + start, end - start);
        if (line.starts_with("0::")) path = line.substr(3);
        else if (auto pos = line.find(":name=systemd:"); pos != std::string_view::npos)
            v1_path = line.substr(pos + 14);
        start = end + 1;
    }
    if (path.empty() || path == "/") path = v1_path;
    // A user service keeps its manager in front ("user@1000.service/app.service"): the fix for it
    // is not a system `systemctl stop`.
    std::string unit, user_manager;
    size_t begin = 0;
    while (begin <= path.size()) {
        size_t slash = path.find('/', begin);
        if (slash == std::string::npos) slash = path.size();
        std::string part = path.substr(begin, slash - begin);
        for (const char* suffix : {".service", ".scope", ".socket", ".mount", ".swap"})
            if (part.size() > std::strlen(suffix) && part.ends_with(suffix)) unit = part;
        if (part.starts_with("user@") && part.ends_with(".service")) user_manager = part;
        begin = slash + 1;
    }
    if (!user_manager.empty() && unit != user_manager) return user_manager + "/" + unit;
    return unit;
}

void attach_socket_owners(std::vector<Listener>& listeners) {
    if (listeners.empty()) return;
    std::map<uint64_t, std::vector<size_t>> by_inode;  // inode -> listeners with it
    for (size_t i = 0; i < listeners.size(); ++i)
        if (listeners[i].inode) by_inode[listeners[i].inode].push_back(i);
    if (by_inode.empty()) return;

    // Every pid holding each inode (a forked process inherits its parent's sockets).
    std::map<uint64_t, std::vector<int>> holders;
    for (int pid : procfs::list_pids()) {
        std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
        DIR* d = opendir(fd_dir.c_str());
        if (!d) continue;  // gone, or not ours to read
        int dfd = dirfd(d);
        std::set<uint64_t> seen;
        while (struct dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            char link[64];
            ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link - 1);
            if (n <= 0) continue;
            link[n] = '\0';
            unsigned long long ino = 0;
            if (std::sscanf(link, "socket:[%llu]", &ino) != 1) continue;
            if (by_inode.count(ino) && seen.insert(ino).second) holders[ino].push_back(pid);
        }
        closedir(d);
    }

    struct Owner {
        std::string comm, exe, cmdline, unit;
        int ppid = 0;
        bool alive = false;
    };
    std::map<int, Owner> owners;
    auto owner = [&](int pid) -> const Owner& {
        auto [it, inserted] = owners.try_emplace(pid);
        if (inserted) {
            std::string base = "/proc/" + std::to_string(pid);
            if (auto st = procfs::read_stat(pid)) {
                it->second.alive = true;
                it->second.ppid = st->ppid;
                it->second.comm = procfs::read_comm(base + "/comm");
                if (it->second.comm.empty()) it->second.comm = st->comm;
                it->second.exe = procfs::read_link(base + "/exe").value_or("");
                it->second.cmdline = cmdline_text(procfs::read_file(base + "/cmdline").value_or(""), max_cmdline_bytes);
                it->second.unit = unit_from_cgroup(procfs::read_file(base + "/cgroup").value_or(""));
            }
        }
        return it->second;
    };

    for (auto& [ino, pids] : holders) {
        // The daemon is the holder whose parent holds no copy; pids are ascending, so ties (and a
        // loop of shared ownership) fall back to the lowest pid.
        int chosen = 0;
        std::set<int> all(pids.begin(), pids.end());
        for (int pid : pids) {
            const Owner& o = owner(pid);
            if (!o.alive) continue;
            if (!chosen) chosen = pid;
            if (!all.count(o.ppid)) {
                chosen = pid;
                break;
            }
        }
        if (!chosen) continue;
        const Owner& o = owner(chosen);
        for (size_t i : by_inode[ino]) {
            listeners[i].pid = chosen;
            listeners[i].comm = o.comm;
            listeners[i].exe = o.exe;
            listeners[i].cmdline = o.cmdline;
            listeners[i].unit = o.unit;
        }
    }
}

}  // namespace synwhy::host
