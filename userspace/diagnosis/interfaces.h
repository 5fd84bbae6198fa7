// Which interface a SYN came in on, as an operator names it: the kernel sees the SYN on the device
// that received the frame (a bridge port, the lower device of a VLAN); IP sees it on the bridge or
// the VLAN interface, where the address, rp_filter and iifname rules are.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diagnosis/model.h"

namespace synwhy {

struct Arrival {
    std::string bridge;     // the bridge whose port received it, "" for none
    std::string ip_ifname;  // the VLAN interface, else the bridge, else the receiving device
};

// ifindex/ifname: the receiving device as the kernel event named it; vlan_id: its tag (0: none).
// Unknown devices (no snapshot, a link gone since) leave ip_ifname = ifname.
Arrival arrival_of(const std::vector<Interface>& links, uint32_t ifindex, const std::string& ifname, uint16_t vlan_id);

// "veth0 (port of bridge br0)", "eth0, VLAN 100 (eth0.100)": the arrival for a flow's detail;
// "" for a plain interface, where ifname says it all.
std::string describe_arrival(const Flow& f);

}  // namespace synwhy
