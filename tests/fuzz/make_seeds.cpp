// Writes the binary seeds of tests/fuzz/corpus: BPF records (built from synwhy_events.h) and
// netlink messages. Run by make_corpus.sh; not part of CI.
//
//   make_seeds CORPUS_DIR            hand-built records and messages only
//   make_seeds --capture CORPUS_DIR  also real kernel replies, as root, in a private netns made here
//                                    (unshare): sock_diag dumps of listeners it opens, and the nft
//                                    trace messages of SYNs it sends over loopback through a ruleset
//                                    that jumps, drops and has a drop policy.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/sock_diag.h>
#include <linux/types.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "synwhy_events.h"

namespace {

std::string corpus;

void write_seed(const std::string& target, const std::string& name, const void* data, size_t size) {
    std::string dir = corpus + "/" + target;
    std::string path = dir + "/" + name;
    FILE* f = fopen(path.c_str(), "wb");
    if (!f) {
        perror(path.c_str());
        exit(1);
    }
    fwrite(data, 1, size, f);
    fclose(f);
}

// fuzz_bpf_event: selector byte 0, then one record; selector 1, then KernelCount rows.
void write_event(const std::string& name, const synwhy_event& e) {
    std::vector<uint8_t> bytes(1 + sizeof e, 0);
    std::memcpy(bytes.data() + 1, &e, sizeof e);
    write_seed("fuzz_bpf_event", name, bytes.data(), bytes.size());
}

synwhy_event base_event(uint8_t kind, bool v6) {
    synwhy_event e{};
    e.ts_ns = 123456789000ULL;
    e.family = v6 ? AF_INET6 : AF_INET;
    if (v6) {
        inet_pton(AF_INET6, "2001:db8::1", e.saddr);
        inet_pton(AF_INET6, "2001:db8::2", e.daddr);
    } else {
        inet_pton(AF_INET, "192.0.2.1", e.saddr);
        inet_pton(AF_INET, "192.0.2.2", e.daddr);
    }
    e.netns = 4026531840u;
    e.ifindex = 2;
    std::strcpy(e.ifname, "veth-srv");
    e.sport = 40000;
    e.dport = 22;
    e.kind = kind;
    e.tcp_flags = 0x02;
    return e;
}

void bpf_event_seeds() {
    for (bool v6 : {false, true}) {
        std::string fam = v6 ? "6" : "4";
        auto syn = base_event(SYNWHY_EV_SYN_RX, v6);
        // The packet as --pcap keeps it: an IPv4 header and a SYN (v4 only; v6 without a copy).
        if (!v6) {
            const uint8_t ip_tcp[40] = {0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
                                        0x9c, 0x40, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0};
            std::memcpy(syn.packet, ip_tcp, sizeof ip_tcp);
            syn.packet_len = sizeof ip_tcp;
        }
        write_event("syn_rx." + fam, syn);
        auto drop = base_event(SYNWHY_EV_DROP, v6);
        drop.reason = 5;  // NETFILTER_DROP in the target's names
        drop.location = 0xffffffffc0a01234ULL;
        write_event("drop." + fam, drop);
        auto reply_drop = drop;  // a SYN-ACK from the watched port, dropped on its way out
        std::swap(reply_drop.sport, reply_drop.dport);
        std::swap(reply_drop.saddr, reply_drop.daddr);
        reply_drop.tcp_flags = 0x12;
        write_event("drop_reply." + fam, reply_drop);
        auto rst = base_event(SYNWHY_EV_RST_SENT, v6);
        rst.reason = 2;  // reset reason 1 + 1
        write_event("rst_sent." + fam, rst);
        auto tx = base_event(SYNWHY_EV_TX, v6);
        std::swap(tx.sport, tx.dport);
        std::swap(tx.saddr, tx.daddr);
        tx.tcp_flags = 0x12;
        write_event("tx_synack." + fam, tx);
        auto state = base_event(SYNWHY_EV_STATE, v6);
        std::swap(state.sport, state.dport);
        std::swap(state.saddr, state.daddr);
        state.old_state = 3;
        state.new_state = 1;
        write_event("established." + fam, state);
        auto retrans = state;
        retrans.kind = SYNWHY_EV_SYNACK_RETRANS;
        write_event("synack_retrans." + fam, retrans);
    }
    auto icmp = base_event(SYNWHY_EV_ICMP_SENT, false);
    icmp.icmp_type = 3;
    icmp.icmp_code = 3;
    write_event("icmp_sent.4", icmp);
    auto tx_icmp = base_event(SYNWHY_EV_TX, false);
    tx_icmp.icmp_type = 3;
    tx_icmp.icmp_code = 3;
    write_event("tx_icmp.4", tx_icmp);
    auto listen = base_event(SYNWHY_EV_STATE, true);  // a dual-stack listener closing
    inet_pton(AF_INET6, "::", listen.saddr);
    inet_pton(AF_INET6, "::", listen.daddr);
    listen.sport = 22;
    listen.dport = 0;
    listen.old_state = 10;
    listen.new_state = 7;
    listen.pid = 812;
    std::strcpy(listen.comm, "sshd");
    write_event("listen_close.6", listen);
    auto mapped = base_event(SYNWHY_EV_STATE, true);  // IPv4 on a dual-stack socket: v4-mapped ends
    inet_pton(AF_INET6, "::ffff:192.0.2.2", mapped.saddr);
    inet_pton(AF_INET6, "::ffff:192.0.2.1", mapped.daddr);
    std::swap(mapped.sport, mapped.dport);
    mapped.old_state = 3;
    mapped.new_state = 1;
    write_event("established_mapped.6", mapped);
    auto exit_ev = base_event(SYNWHY_EV_EXIT, false);
    exit_ev.pid = 812;
    exit_ev.exit_code = 9;  // SIGKILL
    std::strcpy(exit_ev.comm, "sshd");
    write_event("exit.4", exit_ev);
    auto short_rec = base_event(SYNWHY_EV_SYN_RX, false);  // a mismatched object's short record
    std::vector<uint8_t> bytes(1 + sizeof short_rec - 8, 0);
    std::memcpy(bytes.data() + 1, &short_rec, bytes.size() - 1);
    write_seed("fuzz_bpf_event", "short_record", bytes.data(), bytes.size());

    // KernelCount rows: netns, port, kind, what, reason, count.
    struct Row {
        uint32_t netns;
        uint16_t port;
        uint8_t kind, what;
        uint32_t reason;
        uint64_t count;
    };
    const Row rows[] = {
        {4026531840u, 22, SYNWHY_EV_SYN_RX, 0x02, 0, 3},  {4026531840u, 22, SYNWHY_EV_DROP, 0x02, 5, 2},
        {4026531840u, 22, SYNWHY_EV_DROP, 0x12, 5, 1},    {4026531840u, 22, SYNWHY_EV_RST_SENT, 0x02, 0, 1},
        {4026531840u, 22, SYNWHY_EV_RST_SENT, 0x02, 2, 1}, {4026531840u, 22, SYNWHY_EV_TX, 0x12, 0, 4},
        {4026531840u, 22, SYNWHY_EV_TX, 3, 4, 1},         {4026531840u, 22, SYNWHY_EV_STATE, 1, 0, 2},
        {4026531841u, 2222, SYNWHY_EV_ICMP_SENT, 0, 0, 1}, {4026531841u, 2222, SYNWHY_EV_DROP, 0x02, 0x30001, 1},
    };
    std::vector<uint8_t> counts{1};
    for (const Row& r : rows) {
        uint8_t row[20];
        std::memcpy(row, &r.netns, 4);
        std::memcpy(row + 4, &r.port, 2);
        row[6] = r.kind;
        row[7] = r.what;
        std::memcpy(row + 8, &r.reason, 4);
        std::memcpy(row + 12, &r.count, 8);
        counts.insert(counts.end(), row, row + 20);
    }
    write_seed("fuzz_bpf_event", "counts", counts.data(), counts.size());
}

// fuzz_sock_diag: dump replies, several messages per datagram, ending in NLMSG_DONE.
struct Nl {
    std::vector<uint8_t> buf = std::vector<uint8_t>(8192, 0);
    size_t used = 0;
    struct nlmsghdr* put(uint16_t type, uint16_t flags) {
        auto* nlh = mnl_nlmsg_put_header(buf.data() + used);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = flags;
        nlh->nlmsg_seq = 1;
        nlh->nlmsg_pid = 4242;
        return nlh;
    }
    void done(struct nlmsghdr* nlh) { used += NLMSG_ALIGN(nlh->nlmsg_len); }
};

void put_listener(Nl& nl, uint8_t family, const char* addr, uint16_t port, uint32_t inode, int v6only) {
    auto* nlh = nl.put(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI);
    auto* msg = static_cast<struct inet_diag_msg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct inet_diag_msg)));
    msg->idiag_family = family;
    msg->idiag_state = TCP_LISTEN;
    msg->id.idiag_sport = htons(port);
    inet_pton(family, addr, msg->id.idiag_src);
    msg->id.idiag_cookie[0] = inode * 7;
    msg->idiag_rqueue = 0;
    msg->idiag_wqueue = 128;
    msg->idiag_uid = 0;
    msg->idiag_inode = inode;
    if (v6only >= 0) mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, uint8_t(v6only));
    nl.done(nlh);
}

void sock_diag_seeds() {
    Nl v4;
    put_listener(v4, AF_INET, "0.0.0.0", 22, 20111, -1);
    put_listener(v4, AF_INET, "127.0.0.1", 631, 20112, -1);
    auto* done = v4.put(NLMSG_DONE, NLM_F_MULTI);
    mnl_nlmsg_put_extra_header(done, sizeof(int));
    v4.done(done);
    write_seed("fuzz_sock_diag", "listeners.4", v4.buf.data(), v4.used);
    Nl v6;
    put_listener(v6, AF_INET6, "::", 22, 20113, 0);
    put_listener(v6, AF_INET6, "::1", 2222, 20114, 1);
    put_listener(v6, AF_INET6, "2001:db8::2", 22, 20115, -1);  // no SKV6ONLY attribute
    done = v6.put(NLMSG_DONE, NLM_F_MULTI);
    mnl_nlmsg_put_extra_header(done, sizeof(int));
    v6.done(done);
    write_seed("fuzz_sock_diag", "listeners.6", v6.buf.data(), v6.used);
    Nl err;  // the kernel refusing the request
    auto* e = err.put(NLMSG_ERROR, 0);
    auto* me = static_cast<struct nlmsgerr*>(mnl_nlmsg_put_extra_header(e, sizeof(struct nlmsgerr)));
    me->error = -EINVAL;
    me->msg.nlmsg_len = NLMSG_HDRLEN + sizeof(struct inet_diag_req_v2);
    me->msg.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    err.done(e);
    write_seed("fuzz_sock_diag", "error", err.buf.data(), err.used);
}

// fuzz_nft_trace: NFT_MSG_TRACE as nf_tables_trace.c builds it.
struct nlattr* put_verdict(struct nlmsghdr* nlh, int32_t code, const char* chain) {
    auto* nest = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);
    mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(uint32_t(code)));
    if (chain) mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
    mnl_attr_nest_end(nlh, nest);
    return nest;
}

void put_trace(Nl& nl, uint8_t nfgen_family, uint32_t id, uint32_t type, const char* table, const char* chain,
               uint64_t handle, int32_t verdict, const char* jump, bool packet, bool v6) {
    auto* nlh = nl.put(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_TRACE, 0);
    auto* nfg = static_cast<struct nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg)));
    nfg->nfgen_family = nfgen_family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    mnl_attr_put_u32(nlh, NFTA_TRACE_NFPROTO, htonl(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4));
    mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(type));
    mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(id));
    if (table) mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, table);
    if (chain) mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, chain);
    if (handle) {
        uint64_t be = htobe64(handle);
        mnl_attr_put(nlh, NFTA_TRACE_RULE_HANDLE, sizeof be, &be);
    }
    if (type == NFT_TRACETYPE_POLICY) mnl_attr_put_u32(nlh, NFTA_TRACE_POLICY, htonl(uint32_t(verdict)));
    else put_verdict(nlh, verdict, jump);
    if (packet) {
        uint8_t ip4[20] = {0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
        uint8_t ip6[40] = {0x60, 0, 0, 0, 0, 40, 6, 64};
        inet_pton(AF_INET6, "2001:db8::1", ip6 + 8);
        inet_pton(AF_INET6, "2001:db8::2", ip6 + 24);
        uint8_t tcp[20] = {0x9c, 0x40, 0x00, 0x16, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0};
        if (v6) mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, sizeof ip6, ip6);
        else mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, sizeof ip4, ip4);
        mnl_attr_put(nlh, NFTA_TRACE_TRANSPORT_HEADER, sizeof tcp, tcp);
        mnl_attr_put_u32(nlh, NFTA_TRACE_IIF, htonl(2));
        mnl_attr_put_u16(nlh, NFTA_TRACE_IIFTYPE, htons(1));
    }
    nl.done(nlh);
}

void nft_trace_seeds() {
    for (bool v6 : {false, true}) {
        std::string fam = v6 ? "6" : "4";
        // The trace table's marking rule, a jump to a user chain and the drop there: one datagram.
        Nl jump;
        put_trace(jump, NFPROTO_INET, 0x1234, NFT_TRACETYPE_RULE, "synwhy_trace_1", "syn_in", 3, NFT_CONTINUE, nullptr,
                  true, v6);
        put_trace(jump, NFPROTO_INET, 0x1234, NFT_TRACETYPE_RULE, "filter", "input", 4, NFT_JUMP, "ssh_guard", false,
                  v6);
        put_trace(jump, NFPROTO_INET, 0x1234, NFT_TRACETYPE_RULE, "filter", "ssh_guard", 9, NF_DROP, nullptr, false,
                  v6);
        write_seed("fuzz_nft_trace", "jump_drop." + fam, jump.buf.data(), jump.used);
        // A chain's drop policy after a return.
        Nl policy;
        put_trace(policy, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, 0x77, NFT_TRACETYPE_RULE, "filter", "input", 2, NFT_JUMP,
                  "checks", true, v6);
        put_trace(policy, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, 0x77, NFT_TRACETYPE_RETURN, "filter", "checks", 0,
                  NFT_RETURN, nullptr, false, v6);
        put_trace(policy, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, 0x77, NFT_TRACETYPE_POLICY, "filter", "input", 0, NF_DROP,
                  nullptr, false, v6);
        write_seed("fuzz_nft_trace", "policy_drop." + fam, policy.buf.data(), policy.used);
    }
}

// Real kernel bytes, in a private netns.
bool set_lo_up() {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr {};
    std::strcpy(ifr.ifr_name, "lo");
    bool ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
    if (fd >= 0) close(fd);
    return ok;
}

int listen_on(int family, const char* addr, uint16_t port, bool v6only) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(int));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss {};
    socklen_t len;
    if (family == AF_INET) {
        auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, addr, &sin->sin_addr);
        len = sizeof *sin;
    } else {
        auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &sin6->sin6_addr);
        len = sizeof *sin6;
    }
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) < 0 || listen(fd, 16) < 0) {
        perror("listen");
        exit(1);
    }
    return fd;
}

void capture_sock_diag() {
    int a = listen_on(AF_INET, "0.0.0.0", 22, false);
    int b = listen_on(AF_INET6, "::", 2222, false);
    int c = listen_on(AF_INET6, "::1", 22, true);
    struct mnl_socket* nl = mnl_socket_open(NETLINK_SOCK_DIAG);
    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
    for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)}) {
        std::vector<char> buf(1 << 16);
        auto* nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = 1;
        auto* req = static_cast<struct inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct inet_diag_req_v2)));
        req->sdiag_family = family;
        req->sdiag_protocol = IPPROTO_TCP;
        req->idiag_states = 1u << TCP_LISTEN;
        mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
        for (int i = 0;; i++) {
            ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
            if (n <= 0) break;
            write_seed("fuzz_sock_diag", "real." + std::string(family == AF_INET ? "4." : "6.") + std::to_string(i),
                       buf.data(), size_t(n));
            if (reinterpret_cast<struct nlmsghdr*>(buf.data())->nlmsg_type == NLMSG_DONE) break;
            bool done = false;
            int len = int(n);
            for (auto* m = reinterpret_cast<struct nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len))
                if (m->nlmsg_type == NLMSG_DONE) done = true;
            if (done) break;
        }
    }
    mnl_socket_close(nl);
    close(a);
    close(b);
    close(c);
}

void capture_nft_trace() {
    struct mnl_socket* tr = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
    mnl_socket_bind(tr, 0, MNL_SOCKET_AUTOPID);
    int group = NFNLGRP_NFTRACE;
    mnl_socket_setsockopt(tr, NETLINK_ADD_MEMBERSHIP, &group, sizeof group);
    struct nft_ctx* nft = nft_ctx_new(NFT_CTX_DEFAULT);
    const char* ruleset =
        "table inet synwhy_trace_1 {\n"
        "  chain syn_in {\n"
        "    type filter hook prerouting priority -400; policy accept;\n"
        "    tcp dport { 22, 2222 } tcp flags & (syn|ack) == syn meta nftrace set 1\n"
        "  }\n"
        "}\n"
        "table inet lab_filter {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        "    iif lo tcp dport 22 jump ssh_guard\n"
        "  }\n"
        "  chain ssh_guard {\n"
        "    tcp dport 22 counter drop comment \"block-ssh\"\n"
        "  }\n"
        "}\n"
        "table ip6 lab_policy {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy drop;\n"
        "  }\n"
        "}\n";
    if (nft_run_cmd_from_buffer(nft, ruleset) != 0) {
        fprintf(stderr, "make_seeds: nft ruleset refused\n");
        exit(1);
    }
    nft_ctx_free(nft);
    // SYNs over loopback: 127.0.0.1:22 (jump, drop), [::1]:2222 (policy drop).
    for (int family : {AF_INET, AF_INET6}) {
        int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_storage ss {};
        socklen_t len;
        if (family == AF_INET) {
            auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
            sin->sin_family = AF_INET;
            sin->sin_port = htons(22);
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof *sin;
        } else {
            auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(2222);
            sin6->sin6_addr = in6addr_loopback;
            len = sizeof *sin6;
        }
        connect(fd, reinterpret_cast<struct sockaddr*>(&ss), len);
        std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
        int n_seeds = 0;
        for (;;) {
            struct pollfd p{mnl_socket_get_fd(tr), POLLIN, 0};
            if (poll(&p, 1, 300) <= 0) break;
            ssize_t n = mnl_socket_recvfrom(tr, buf.data(), buf.size());
            if (n <= 0) break;
            if (n_seeds < 8)
                write_seed("fuzz_nft_trace", "real." + std::to_string(family == AF_INET ? 4 : 6) + "." + std::to_string(n_seeds++),
                           buf.data(), size_t(n));
        }
        close(fd);
    }
    mnl_socket_close(tr);
}

}  // namespace

int main(int argc, char** argv) {
    bool capture = argc == 3 && std::string(argv[1]) == "--capture";
    if (argc != 2 && !capture) {
        fprintf(stderr, "usage: make_seeds [--capture] CORPUS_DIR\n");
        return 2;
    }
    corpus = argv[argc - 1];
    bpf_event_seeds();
    sock_diag_seeds();
    nft_trace_seeds();
    if (capture) {
        if (unshare(CLONE_NEWNET) != 0 || !set_lo_up()) {
            perror("make_seeds: a private netns (root)");
            return 1;
        }
        capture_sock_diag();
        capture_nft_trace();
    }
    return 0;
}
