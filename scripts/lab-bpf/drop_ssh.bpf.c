// SPDX-License-Identifier: GPL-2.0
/* The lab's ingress drops, for kernel-drop scenarios: a tc (clsact, direct action) program and an
 * XDP program that each drop TCP segments to port 22, as a DDoS filter or a mistaken policy would.
 * Plain headers only (no vmlinux.h): these are lab fixtures, built by scripts/lab.sh with clang. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

static __always_inline int to_port_22(void *data, void *end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return 0;
	struct tcphdr *tcp;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl != 5)
			return 0;
		tcp = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return 0;
		tcp = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if ((void *)(tcp + 1) > end)
		return 0;
	return tcp->dest == bpf_htons(22);
}

SEC("tc")
int tc_drop_ssh(struct __sk_buff *skb)
{
	return to_port_22((void *)(long)skb->data, (void *)(long)skb->data_end) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("xdp")
int xdp_drop_ssh(struct xdp_md *ctx)
{
	return to_port_22((void *)(long)ctx->data, (void *)(long)ctx->data_end) ? XDP_DROP : XDP_PASS;
}
