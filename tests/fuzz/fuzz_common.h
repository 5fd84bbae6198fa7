// Shared by the libFuzzer targets: invariant checks that abort (libFuzzer then saves the input as a
// crash), and the input as text after a one-byte selector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <linux/netlink.h>

#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

namespace fuzz {

// Targets covering several parsers of one data source pick the parser with the first byte; the
// rest is that parser's input (so every seed starts with its selector byte).
inline std::string rest_as_text(const uint8_t* data, size_t size) {
    return size > 1 ? std::string(reinterpret_cast<const char*>(data) + 1, size - 1) : std::string();
}

// The messages of one netlink datagram, each with 16 <= nlmsg_len <= the bytes left, as the kernel
// frames them. (libmnl 1.0.4's mnl_nlmsg_ok compares nlmsg_len as an int: a length of 2^31 or more
// passes it and mnl_nlmsg_next jumps out of the buffer. Only the kernel writes these datagrams, so
// the decoders are fuzzed on sound framing.) f returns false to stop.
template <typename F>
void for_each_nlmsg(const uint8_t* buf, size_t size, F&& f) {
    size_t off = 0;
    while (off + NLMSG_HDRLEN <= size) {
        const auto* nlh = reinterpret_cast<const struct nlmsghdr*>(buf + off);
        if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > size - off) return;
        if (!f(nlh)) return;
        off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
}

}  // namespace fuzz
