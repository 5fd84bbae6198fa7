// SPDX-License-Identifier: GPL-2.0
/* The floor for scripts/bench.sh: empty tp_btf programs on the tracepoints synwhy's per-packet
 * and socket programs use. Their run_time_ns/run_cnt is what any tp_btf program costs there. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(empty_rx, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(empty_drop, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(empty_tx, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_state, const struct sock *sk)
{
	return 0;
}
