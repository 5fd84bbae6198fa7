// sock_diag (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY) dump replies through parse_inet_diag_listener,
// the decoder list_tcp_listeners uses (through mnl_cb_run). The input is one datagram, split into
// messages with a strict framing check (fuzz::for_each_nlmsg); like mnl_cb_run, NLMSG_DONE and
// NLMSG_ERROR end it.
#include <libmnl/libmnl.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>

#include <cstring>
#include <memory>

#include "fuzz_common.h"
#include "host/snapshot.h"

using namespace synwhy;

namespace {

void check_message(const struct nlmsghdr* nlh, size_t& n) {
    Listener l;
    if (!synwhy::host::parse_inet_diag_listener(nlh, l)) return;
    ++n;
    FUZZ_CHECK(nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY);
    FUZZ_CHECK(mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct inet_diag_msg));
    const auto* msg = static_cast<const struct inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
    FUZZ_CHECK(msg->idiag_state == TCP_LISTEN);
    FUZZ_CHECK(l.addr.family == (msg->idiag_family == AF_INET ? Family::ipv4 : Family::ipv6));
    FUZZ_CHECK(msg->idiag_family == AF_INET || msg->idiag_family == AF_INET6);
    FUZZ_CHECK(std::memcmp(l.addr.bytes.data(), msg->id.idiag_src, l.addr.family == Family::ipv4 ? 4 : 16) == 0);
    if (l.addr.family == Family::ipv4)
        for (size_t i = 4; i < l.addr.bytes.size(); i++) FUZZ_CHECK(l.addr.bytes[i] == 0);
    FUZZ_CHECK(l.port == ntohs(msg->id.idiag_sport));
    FUZZ_CHECK(l.inode == msg->idiag_inode && l.backlog == msg->idiag_wqueue && l.accept_queue == msg->idiag_rqueue);
    FUZZ_CHECK(!l.v6only || l.addr.family == Family::ipv6);
    FUZZ_CHECK(l.pid == 0 && l.comm.empty() && l.exe.empty());  // owners come later, from /proc
    (void)l.addr.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 1 << 16) return 0;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[size]);  // aligned, exactly `size` bytes
    if (size) std::memcpy(buf.get(), data, size);
    size_t listeners = 0;
    fuzz::for_each_nlmsg(buf.get(), size, [&](const struct nlmsghdr* nlh) {
        if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) return false;
        check_message(nlh, listeners);
        return true;
    });
    FUZZ_CHECK(listeners <= size / NLMSG_HDRLEN);
    return 0;
}
