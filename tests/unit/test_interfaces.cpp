// Which interface a SYN came in on: the kernel's receiving device against the links of the netns.
#include <gtest/gtest.h>

#include "diagnosis/interfaces.h"

namespace synwhy {
namespace {

std::vector<Interface> links() {
    return {
        {1, "lo", "", 0, 0, 0},
        {2, "eth0", "", 0, 0, 0},
        {3, "eth0.100", "vlan", 0, 2, 100},
        {4, "vmbr0", "bridge", 0, 0, 0},
        {5, "enp1s0", "", 4, 0, 0},         // a port of vmbr0
        {6, "vmbr0.20", "vlan", 0, 4, 20},  // a VLAN on the bridge
        {7, "bond0", "bond", 0, 0, 0},
        {8, "eno1", "", 7, 0, 0},           // a bond's slave: not a bridge port
        {9, "bond0.30", "vlan", 0, 7, 30},  // a VLAN on the bond
    };
}

TEST(Arrival, APlainInterfaceIsItsOwn) {
    Arrival a = arrival_of(links(), 2, "eth0", 0);
    EXPECT_EQ(a.bridge, "");
    EXPECT_EQ(a.ip_ifname, "eth0");
}

TEST(Arrival, ABridgePortsSynReachesIpOnTheBridge) {
    Arrival a = arrival_of(links(), 5, "enp1s0", 0);
    EXPECT_EQ(a.bridge, "vmbr0");
    EXPECT_EQ(a.ip_ifname, "vmbr0");
}

TEST(Arrival, ATaggedSynReachesIpOnItsVlanInterface) {
    EXPECT_EQ(arrival_of(links(), 2, "eth0", 100).ip_ifname, "eth0.100");
    // On a bridge port, the VLAN is the bridge's.
    Arrival a = arrival_of(links(), 5, "enp1s0", 20);
    EXPECT_EQ(a.bridge, "vmbr0");
    EXPECT_EQ(a.ip_ifname, "vmbr0.20");
}

TEST(Arrival, AVlanWithoutItsInterfaceStaysOnTheDevice) {
    EXPECT_EQ(arrival_of(links(), 2, "eth0", 200).ip_ifname, "eth0");
}

TEST(Arrival, ABondSlavesSynReachesIpOnTheBondNotABridge) {
    // The bond's receive handler hands the frame on as the bond's: `iptables -i bond0` matches it.
    Arrival a = arrival_of(links(), 8, "eno1", 0);
    EXPECT_EQ(a.bridge, "");
    EXPECT_EQ(a.ip_ifname, "bond0");
    EXPECT_EQ(arrival_of(links(), 8, "eno1", 30).ip_ifname, "bond0.30");
}

TEST(Arrival, AnUnknownDeviceKeepsTheKernelsName) {
    EXPECT_EQ(arrival_of({}, 9, "veth9", 0).ip_ifname, "veth9");
    EXPECT_EQ(arrival_of(links(), 42, "gone0", 0).ip_ifname, "gone0");
}

TEST(Arrival, AnotherNamespacesDeviceWithTheSameIndexIsNotThisOnes) {
    // A macvlan container's SYN is seen on the lower device in the host's namespace: index 5
    // there is not this namespace's bridge port 5.
    Arrival a = arrival_of(links(), 5, "veth-low", 0);
    EXPECT_EQ(a.bridge, "");
    EXPECT_EQ(a.ip_ifname, "veth-low");
}

TEST(Arrival, DescribedOnlyWhenItIsNotAPlainInterface) {
    Flow f;
    f.ifname = "eth0";
    f.ip_ifname = "eth0";
    EXPECT_EQ(describe_arrival(f), "");
    f.bridge = "vmbr0";
    f.ifname = "enp1s0";
    f.ip_ifname = "vmbr0";
    EXPECT_EQ(describe_arrival(f), "enp1s0 (port of bridge vmbr0)");
    Flow v;
    v.ifname = "eth0";
    v.vlan_id = 100;
    v.ip_ifname = "eth0.100";
    EXPECT_EQ(describe_arrival(v), "eth0, VLAN 100 (eth0.100)");
    Flow b;
    b.ifname = "eno1";
    b.ip_ifname = "bond0";
    EXPECT_EQ(describe_arrival(b), "eno1 (slave of bond0)");
}

}  // namespace
}  // namespace synwhy
