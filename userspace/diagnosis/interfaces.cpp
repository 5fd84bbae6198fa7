#include "diagnosis/interfaces.h"

#include <fmt/format.h>

namespace synwhy {

namespace {

const Interface* by_index(const std::vector<Interface>& links, uint32_t ifindex) {
    for (const auto& l : links)
        if (l.ifindex == ifindex) return &l;
    return nullptr;
}

const Interface* vlan_on(const std::vector<Interface>& links, uint32_t lower, uint16_t vlan_id) {
    for (const auto& l : links)
        if (l.kind == "vlan" && l.link == lower && l.vlan_id == vlan_id) return &l;
    return nullptr;
}

}  // namespace

Arrival arrival_of(const std::vector<Interface>& links, uint32_t ifindex, const std::string& ifname, uint16_t vlan_id) {
    Arrival a;
    a.ip_ifname = ifname;
    const Interface* dev = by_index(links, ifindex);
    // Indexes are per namespace: a macvlan container's SYN is seen on its lower device, in
    // another namespace, whose index may be one of this namespace's too.
    if (!dev || (!ifname.empty() && dev->name != ifname)) return a;
    // A bridge port's frames reach IP on the bridge (and a tagged one on the bridge's VLAN); a bond
    // or team slave's on its master, which the kernel's receive handler makes the skb's device.
    const Interface* master = dev->master ? by_index(links, dev->master) : nullptr;
    const Interface* base = dev;
    if (master && master->kind == "bridge") a.bridge = master->name;
    if (master && (master->kind == "bridge" || master->kind == "bond" || master->kind == "team")) base = master;
    a.ip_ifname = base->name;
    if (vlan_id) {
        if (const Interface* vlan = vlan_on(links, base->ifindex, vlan_id)) a.ip_ifname = vlan->name;
    }
    return a;
}

std::string describe_arrival(const Flow& f) {
    std::string out;
    if (!f.bridge.empty()) out = fmt::format("{} (port of bridge {})", f.ifname, f.bridge);
    else if (!f.vlan_id && !f.ip_ifname.empty() && f.ip_ifname != f.ifname)
        out = fmt::format("{} (slave of {})", f.ifname, f.ip_ifname);
    if (f.vlan_id) {
        if (out.empty()) out = f.ifname;
        out += fmt::format(", VLAN {}", f.vlan_id);
        if (f.ip_ifname != f.ifname && f.ip_ifname != f.bridge) out += fmt::format(" ({})", f.ip_ifname);
    }
    return out;
}

}  // namespace synwhy
