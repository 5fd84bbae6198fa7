// The set of watched TCP ports, as the kernel side keeps it: a 65536-bit bitmap.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace synwhy {

class PortSet {
public:
    PortSet() = default;
    explicit PortSet(const std::vector<uint16_t>& ports) {
        for (uint16_t p : ports) add(p);
    }
    void add(uint16_t port) { bits_[port >> 6] |= 1ULL << (port & 63); }
    bool contains(uint16_t port) const { return bits_[port >> 6] & (1ULL << (port & 63)); }
    const std::array<uint64_t, 1024>& words() const { return bits_; }

private:
    std::array<uint64_t, 1024> bits_{};
};

}  // namespace synwhy
