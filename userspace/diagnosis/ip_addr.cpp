#include "diagnosis/model.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace synwhy {

std::optional<IpAddr> IpAddr::parse(const std::string& text) {
    IpAddr a;
    if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
        a.family = Family::ipv4;
        return a;
    }
    if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
        a.family = Family::ipv6;
        return a;
    }
    return std::nullopt;
}

std::string IpAddr::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::ipv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

bool IpAddr::is_unspecified() const {
    size_t n = family == Family::ipv4 ? 4 : 16;
    return std::all_of(bytes.begin(), bytes.begin() + n, [](uint8_t b) { return b == 0; });
}

bool IpAddr::is_loopback() const {
    if (family == Family::ipv4) return bytes[0] == 127;
    if (auto v4 = v4_mapped()) return v4->is_loopback();
    static const std::array<uint8_t, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return bytes == one;
}

std::optional<IpAddr> IpAddr::v4_mapped() const {
    if (family != Family::ipv6) return std::nullopt;
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes.data(), prefix, 12) != 0) return std::nullopt;
    IpAddr v4;
    v4.family = Family::ipv4;
    std::copy(bytes.begin() + 12, bytes.end(), v4.bytes.begin());
    return v4;
}

}  // namespace synwhy
