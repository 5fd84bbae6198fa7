// The interfaces of the calling thread's netns (bridges, VLANs, their ports) and the BPF programs
// on them: XDP (from the link dump), tc
// filters on a clsact or ingress qdisc (RTM_GETTFILTER), tcx links (BPF_PROG_QUERY, kernel 6.6+);
// their names from the kernel and a process that holds each open. Nothing is attached or changed.
#include <bpf/bpf.h>
#include <dirent.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "host/procfs.h"
#include "host/snapshot.h"

namespace synwhy::host {

namespace {

// BPF_TCX_INGRESS / BPF_TCX_EGRESS (Linux 6.6), absent from the uapi headers this builds with.
constexpr int attach_tcx_ingress = 46, attach_tcx_egress = 47;
// clsact's ingress and egress hooks; an ingress qdisc answers the ingress one too.
constexpr uint32_t parent_ingress = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
constexpr uint32_t parent_egress = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS);
// Holder search: /proc/*/fd entries looked at, at most.
constexpr size_t max_fds_scanned = 200000;

int collect_attr(const struct nlattr* attr, void* data) {
    auto* table = static_cast<std::map<int, const struct nlattr*>*>(data);
    (*table)[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}

std::map<int, const struct nlattr*> attrs_of(const struct nlmsghdr* nlh, size_t header) {
    std::map<int, const struct nlattr*> table;
    mnl_attr_parse(nlh, unsigned(header), collect_attr, &table);
    return table;
}

std::map<int, const struct nlattr*> nested_attrs(const struct nlattr* nest) {
    std::map<int, const struct nlattr*> table;
    mnl_attr_parse_nested(nest, collect_attr, &table);
    return table;
}

uint32_t u32_attr(const std::map<int, const struct nlattr*>& table, int type) {
    auto it = table.find(type);
    if (it == table.end() || mnl_attr_validate(it->second, MNL_TYPE_U32) < 0) return 0;
    return mnl_attr_get_u32(it->second);
}

std::string string_attr(const std::map<int, const struct nlattr*>& table, int type) {
    auto it = table.find(type);
    if (it == table.end() || mnl_attr_validate(it->second, MNL_TYPE_STRING) < 0) return "";
    const char* s = mnl_attr_get_str(it->second);
    return std::string(s, strnlen(s, mnl_attr_get_payload_len(it->second)));
}

// A dump request on a fresh NETLINK_ROUTE socket of the calling thread's netns; each reply
// message goes to on_message. Returns "" or what failed.
std::string route_dump(uint16_t type, const void* header, size_t header_len,
                       const std::function<void(const struct nlmsghdr*)>& on_message) {
    struct mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl) return std::string("cannot open NETLINK_ROUTE: ") + strerror(errno);
    std::vector<char> buffer(1 << 16);  // dump replies come in skbs of up to 32 KiB
    struct nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = 1;
    std::memcpy(mnl_nlmsg_put_extra_header(nlh, header_len), header, header_len);
    std::string error;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 || mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        error = std::string("rtnetlink: ") + strerror(errno);
    } else {
        auto cb = [](const struct nlmsghdr* m, void* data) {
            (*static_cast<const std::function<void(const struct nlmsghdr*)>*>(data))(m);
            return MNL_CB_OK;
        };
        const unsigned portid = mnl_socket_get_portid(nl);
        for (;;) {
            ssize_t n = mnl_socket_recvfrom(nl, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) continue;
            int rc = n < 0 ? MNL_CB_ERROR
                           : mnl_cb_run(buffer.data(), size_t(n), 1, portid, cb,
                                        const_cast<std::function<void(const struct nlmsghdr*)>*>(&on_message));
            if (rc == MNL_CB_STOP) break;
            if (rc < 0) {
                error = std::string("rtnetlink: ") + strerror(errno);
                break;
            }
        }
    }
    mnl_socket_close(nl);
    return error;
}

struct Link {
    std::string name;
    std::string qdisc;  // "clsact", "ingress" or ""
};

// Per ifindex, the ingress-side qdisc: only there can tc filters run before the stack.
std::string find_ingress_qdiscs(std::map<uint32_t, Link>& links) {
    struct tcmsg req {};
    req.tcm_family = AF_UNSPEC;
    return route_dump(RTM_GETQDISC, &req, sizeof req, [&](const struct nlmsghdr* nlh) {
        if (nlh->nlmsg_type != RTM_NEWQDISC || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct tcmsg)) return;
        const auto* tcm = static_cast<const struct tcmsg*>(mnl_nlmsg_get_payload(nlh));
        std::string kind = string_attr(attrs_of(nlh, sizeof(struct tcmsg)), TCA_KIND);
        auto link = links.find(uint32_t(tcm->tcm_ifindex));
        if (link != links.end() && (kind == "clsact" || kind == "ingress")) link->second.qdisc = kind;
    });
}

std::string list_tc_filters(uint32_t ifindex, const Link& link, std::vector<NetProgram>& out) {
    std::vector<std::pair<uint32_t, const char*>> hooks = {{parent_ingress, "tc ingress"}};
    if (link.qdisc == "clsact") hooks.emplace_back(parent_egress, "tc egress");  // the ingress qdisc has no egress
    std::string error;
    for (const auto& hook : hooks) {
        // Named copies, not a structured binding: clang 14 (the fuzz build) cannot capture those.
        uint32_t parent = hook.first;
        const char* attach = hook.second;
        struct tcmsg req {};
        req.tcm_family = AF_UNSPEC;
        req.tcm_ifindex = int(ifindex);
        req.tcm_parent = parent;
        std::string e = route_dump(RTM_GETTFILTER, &req, sizeof req, [&](const struct nlmsghdr* nlh) {
            uint32_t id = 0;
            std::string name;
            if (parse_tc_bpf_filter(nlh, id, name)) out.push_back({link.name, attach, id, name, 0, ""});
        });
        if (!e.empty()) error = e;
    }
    return error;
}

// tcx links (bpf_link based tc, Linux 6.6+). false when the kernel does not know the hook.
bool list_tcx_programs(uint32_t ifindex, const std::string& ifname, std::vector<NetProgram>& out) {
    for (auto [type, attach] : {std::pair{attach_tcx_ingress, "tcx ingress"}, {attach_tcx_egress, "tcx egress"}}) {
        __u32 ids[64] = {};
        LIBBPF_OPTS(bpf_prog_query_opts, opts, .prog_ids = ids, .prog_cnt = 64);
        if (bpf_prog_query_opts(int(ifindex), static_cast<enum bpf_attach_type>(type), &opts) != 0) return false;
        for (__u32 i = 0; i < std::min<__u32>(opts.prog_cnt, 64); ++i) out.push_back({ifname, attach, ids[i], "", 0, ""});
    }
    return true;
}

// The kernel's name of a program (CAP_SYS_ADMIN to open it by id); "" when it cannot be opened.
std::string program_name(uint32_t id) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return "";
    struct bpf_prog_info info {};
    __u32 len = sizeof info;
    std::string name;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) name.assign(info.name, strnlen(info.name, sizeof info.name));
    close(fd);
    return name;
}

// A process holding each program open, through a program or link fd (/proc/PID/fdinfo says
// prog_id). Bounded; stops when every program has a holder.
void find_holders(std::vector<NetProgram>& programs) {
    std::set<uint32_t> wanted;
    for (const auto& p : programs) wanted.insert(p.prog_id);
    std::map<uint32_t, int> holder;
    size_t scanned = 0;
    for (int pid : procfs::list_pids()) {
        if (holder.size() == wanted.size() || scanned > max_fds_scanned) break;
        std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
        DIR* d = opendir(fd_dir.c_str());
        if (!d) continue;
        while (struct dirent* e = readdir(d)) {
            if (e->d_name[0] == '.' || ++scanned > max_fds_scanned) continue;
            char link[64];
            ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
            if (n <= 0) continue;
            link[n] = '\0';
            if (std::strcmp(link, "anon_inode:bpf-prog") != 0 && std::strcmp(link, "anon_inode:bpf_link") != 0) continue;
            auto text = procfs::read_file(fmt::format("/proc/{}/fdinfo/{}", pid, e->d_name));
            uint32_t id = text ? prog_id_from_fdinfo(*text) : 0;
            if (wanted.count(id)) holder.emplace(id, pid);
        }
        closedir(d);
    }
    for (auto& p : programs) {
        auto it = holder.find(p.prog_id);
        if (it == holder.end()) continue;
        p.holder_pid = it->second;
        p.holder_comm = procfs::read_comm(fmt::format("/proc/{}/comm", it->second));
    }
}

}  // namespace

bool parse_link_xdp(const struct nlmsghdr* nlh, LinkXdp& out) {
    if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg)) return false;
    const auto* ifi = static_cast<const struct ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    auto attrs = attrs_of(nlh, sizeof(struct ifinfomsg));
    LinkXdp link;
    link.ifindex = uint32_t(ifi->ifi_index);
    link.ifname = string_attr(attrs, IFLA_IFNAME);
    if (auto xdp = attrs.find(IFLA_XDP); xdp != attrs.end()) {
        auto x = nested_attrs(xdp->second);
        // The kernel names each attached mode's program; older ones only the one of a single mode.
        for (auto [type, mode] : {std::pair{IFLA_XDP_DRV_PROG_ID, "xdp"}, {IFLA_XDP_SKB_PROG_ID, "xdpgeneric"},
                                  {IFLA_XDP_HW_PROG_ID, "xdpoffload"}})
            if (uint32_t id = u32_attr(x, type)) link.programs.emplace_back(mode, id);
        uint32_t single = u32_attr(x, IFLA_XDP_PROG_ID);
        auto attached = x.find(IFLA_XDP_ATTACHED);
        if (link.programs.empty() && single && attached != x.end() && mnl_attr_validate(attached->second, MNL_TYPE_U8) >= 0) {
            uint8_t m = mnl_attr_get_u8(attached->second);
            link.programs.emplace_back(m == XDP_ATTACHED_SKB ? "xdpgeneric" : m == XDP_ATTACHED_HW ? "xdpoffload" : "xdp", single);
        }
    }
    out = std::move(link);
    return true;
}

bool parse_tc_bpf_filter(const struct nlmsghdr* nlh, uint32_t& prog_id, std::string& name) {
    if (nlh->nlmsg_type != RTM_NEWTFILTER || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct tcmsg)) return false;
    auto attrs = attrs_of(nlh, sizeof(struct tcmsg));
    auto options = attrs.find(TCA_OPTIONS);
    if (string_attr(attrs, TCA_KIND) != "bpf" || options == attrs.end()) return false;
    auto bpf = nested_attrs(options->second);
    prog_id = u32_attr(bpf, TCA_BPF_ID);
    name = string_attr(bpf, TCA_BPF_NAME);  // "obj.o:[section]" as tc loaded it
    return prog_id != 0;
}

bool parse_link_interface(const struct nlmsghdr* nlh, Interface& out) {
    if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg)) return false;
    const auto* ifi = static_cast<const struct ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    auto attrs = attrs_of(nlh, sizeof(struct ifinfomsg));
    Interface link;
    link.ifindex = uint32_t(ifi->ifi_index);
    link.name = string_attr(attrs, IFLA_IFNAME);
    link.master = u32_attr(attrs, IFLA_MASTER);
    link.link = u32_attr(attrs, IFLA_LINK);
    if (auto info = attrs.find(IFLA_LINKINFO); info != attrs.end()) {
        auto linkinfo = nested_attrs(info->second);
        link.kind = string_attr(linkinfo, IFLA_INFO_KIND);
        auto data = linkinfo.find(IFLA_INFO_DATA);
        if (link.kind == "vlan" && data != linkinfo.end()) {
            auto vlan = nested_attrs(data->second);
            auto id = vlan.find(IFLA_VLAN_ID);
            if (id != vlan.end() && mnl_attr_validate(id->second, MNL_TYPE_U16) >= 0) link.vlan_id = mnl_attr_get_u16(id->second);
        }
    }
    out = std::move(link);
    return true;
}

std::vector<Interface> list_interfaces(std::string& error) {
    std::vector<Interface> out;
    struct ifinfomsg link_req {};
    link_req.ifi_family = AF_UNSPEC;
    error = route_dump(RTM_GETLINK, &link_req, sizeof link_req, [&](const struct nlmsghdr* nlh) {
        Interface link;
        if (parse_link_interface(nlh, link)) out.push_back(std::move(link));
    });
    return out;
}

uint32_t prog_id_from_fdinfo(const std::string& text) {
    auto pos = text.find("prog_id:");
    if (pos == std::string::npos || (pos > 0 && text[pos - 1] != '\n')) return 0;
    unsigned long id = std::strtoul(text.c_str() + pos + 8, nullptr, 10);
    return id <= UINT32_MAX ? uint32_t(id) : 0;
}

std::vector<NetProgram> list_net_programs(std::string& error) {
    std::vector<NetProgram> out;
    std::map<uint32_t, Link> links;
    struct ifinfomsg link_req {};
    link_req.ifi_family = AF_UNSPEC;
    error = route_dump(RTM_GETLINK, &link_req, sizeof link_req, [&](const struct nlmsghdr* nlh) {
        LinkXdp link;
        if (!parse_link_xdp(nlh, link)) return;
        links[link.ifindex].name = link.ifname;
        for (const auto& [mode, id] : link.programs) out.push_back({link.ifname, mode, id, "", 0, ""});
    });
    if (!error.empty()) return out;
    if (std::string e = find_ingress_qdiscs(links); !e.empty()) error = "qdiscs: " + e;
    bool tcx_known = true;
    for (const auto& [ifindex, link] : links) {
        if (!link.qdisc.empty())
            if (std::string e = list_tc_filters(ifindex, link, out); !e.empty()) error = "tc filters: " + e;
        if (tcx_known) tcx_known = list_tcx_programs(ifindex, link.name, out);
    }
    if (out.empty()) return out;
    for (auto& p : out) {
        std::string name = program_name(p.prog_id);
        if (!name.empty() || p.prog_name.empty()) p.prog_name = name;  // tc's "obj:[sec]" when the kernel's is unknown
    }
    find_holders(out);
    return out;
}

}  // namespace synwhy::host
