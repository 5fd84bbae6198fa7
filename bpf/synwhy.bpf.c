// SPDX-License-Identifier: GPL-2.0
/* synwhy's kernel side: follow inbound SYNs to watched ports and report their fate.
 *
 * Every program is tp_btf (BTF-typed raw tracepoint): no tracefs, no kprobes, cheapest attach.
 * Per-packet programs (netif_receive_skb, net_dev_queue, kfree_skb) bail out after a few loads
 * for packets that are not IP, not in the watched netns, not TCP to/from a watched port.
 * Tracepoints whose arguments changed across kernels come in variants; userspace picks the one
 * the running kernel's BTF matches and switches the others off before load (see kernel_compat.h). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "synwhy_events.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_ICMPV6_ 58
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7
#define TCP_LISTEN_ 10

char LICENSE[] SEC("license") = "GPL";

/* Set by userspace before load (read-only afterwards, so the verifier can prune). */
const volatile __u64 port_bitmap[SYNWHY_PORT_WORDS] = {};
const volatile __u32 watch_netns = 0; /* 0: every namespace */
const volatile bool copy_packets = false; /* --pcap */
/* Set by userspace while attached (the ipvlan module may load later): the address of the ipvlan
 * module's ipvlan_handle_frame, the rx_handler that marks an ipvlan lower device; 0: unknown. */
volatile __u64 ipvlan_rx_handler = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Processes that listen on a watched port (seeded by userspace from the snapshot, added here when
 * a listen starts), so that their exit is reported with its status. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} listener_pids SEC(".maps");

/* Clients whose SYN arrived in the watched netns, so that their handshake can be followed where
 * a DNAT sends it (a container's port 22 behind the host's :2222): the accepted child socket there
 * has neither the watched port nor the watched netns, only the same client end. */
struct client_key {
	__u8 addr[16];
	__u16 port;
	__u16 family;
};
/* Where and when the client's latest SYN arrived: the same SYN arriving in another watched
 * namespace within a second was sent on there (SYNWHY_SYN_AGAIN). */
struct pending_client {
	__u64 last_syn_ns;
	__u32 netns;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct client_key);
	__type(value, struct pending_client);
} pending_clients SEC(".maps");

/* The watched namespace's own addresses (set by userspace before attaching, at each snapshot and
 * on rtnetlink address changes): a SYN to a watched port arriving there to another address is one
 * the namespace only forwards (counted apart, never detailed), and a SYN seen on a macvlan's lower
 * device in another namespace counts when it goes to one of them. The all-zero key says the set
 * is known (see struct synwhy_addr_key). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct synwhy_addr_key);
	__type(value, __u8);
} watched_addrs SEC(".maps");

/* Clients whose SYN to a watched port arrived to an address not the namespace's (counted as passing
 * through), and when: a DNAT may still send it to one of the namespace's own addresses (a VIP or
 * another address routed here), which only shows once the namespace answers or drops it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct client_key);
	__type(value, __u64);
} passing_syns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct synwhy_other_port_key);
	__type(value, __u64);
} other_port_syns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNWHY_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Exact totals per (netns, port, what happened), kept in the kernel whatever the ring buffer
 * could take: a flood is counted even when its detail is not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct synwhy_count_key);
	__type(value, __u64);
} counts SEC(".maps");

/* The last answer seen leaving on this CPU. A device stacked on another (a bridge and its port, a
 * VLAN or a bond and its lower device) hands the same skb to dev_queue_xmit again, nested on the
 * same CPU within microseconds: the second sighting is not a second SYN-ACK, RST or ICMP error. */
struct tx_sighting {
	__u64 skb;
	__u64 ts_ns;
	__u32 ports;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tx_sighting);
} last_tx SEC(".maps");

/* Per-CPU token bucket bounding the rate of detailed packet events (a flood must not turn
 * into a userspace flood); what it holds back is counted, not lost. */
#define DETAIL_RATE_PER_SEC 4000
#define DETAIL_BURST 2048
struct detail_budget {
	__u64 tokens;
	__u64 last_ns;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct detail_budget);
} budget SEC(".maps");

/* What the per-packet parsers extract from an IP+TCP header. */
struct pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 vlan_id;
	__u16 nat_dport;    /* a DNATed SYN: where it was sent (see nat_original_dst) */
	__u8 nat_daddr[16];
	bool reply;	    /* DROP: the packet answers the client (SYN-ACK, RST) */
	bool counted_apart; /* not in the per-kind totals: a drop in a namespace not watched, of a
			     * followed client's SYN (a DNAT target's: detail only), or a SYN
			     * arriving again (SYNWHY_SYN_AGAIN: counted on its own) */
};

/* The client end of an inbound packet (its source), as the maps of clients key it. */
static __always_inline struct client_key client_of(const struct pkt *p)
{
	struct client_key ck = {.port = p->sport, .family = p->family};
	__builtin_memcpy(ck.addr, p->saddr, 16);
	return ck;
}

/* A DNAT hands a SYN on within microseconds of its arrival; a second bounds "the same SYN". */
#define SAME_SYN_WITHIN_NS 1000000000ULL

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		*v += 1;
}

static __always_inline bool port_watched(__u16 port)
{
	return port_bitmap[port >> 6] & (1ULL << (port & 63));
}

static __always_inline void count_packet(__u8 kind, __u32 netns, __u16 port, __u8 what, __u32 reason)
{
	struct synwhy_count_key k = {.netns = netns, .port = port, .kind = kind, .what = what, .reason = reason};
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v) {
		*v += 1;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST);
	}
}

/* Takes one token of the detail budget; false when this CPU spent it (counted). */
static __always_inline bool take_detail_token(void)
{
	__u32 zero = 0;
	struct detail_budget *b = bpf_map_lookup_elem(&budget, &zero);
	if (!b)
		return true;
	__u64 now = bpf_ktime_get_ns();
	__u64 refill = (now - b->last_ns) * DETAIL_RATE_PER_SEC / 1000000000ULL;
	if (refill) {
		b->tokens = b->tokens + refill > DETAIL_BURST ? DETAIL_BURST : b->tokens + refill;
		b->last_ns = now;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

static __always_inline __u32 net_inum(struct net *net)
{
	return net ? BPF_CORE_READ(net, ns.inum) : 0;
}

/* The netns of a packet: its device's, else its socket's (locally generated, not yet routed).
 * Plain loads through BTF pointers (CO-RE relocated, fault-safe in tp_btf): no probe reads on
 * the per-packet path. */
static __always_inline __u32 skb_netns(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	if (dev)
		return dev->nd_net.net->ns.inum;
	struct sock *sk = skb->sk;
	if (sk)
		return sk->__sk_common.skc_net.net->ns.inum;
	return 0;
}

/* The few bytes that decide whether a packet matters (L4 protocol, ports, TCP flags), in one
 * small probe read; addresses are parsed only for packets that pass. Non-first IPv4 fragments
 * carry no L4 header and are refused. */
struct l4peek {
	__u16 sport;
	__u16 dport;
	__u8 flags;
	__u8 proto;
};

/* IPv6 extension headers a SYN may carry before its TCP header (RFC 8200 4.1): hop-by-hop,
 * routing, destination options, and a fragment header whose offset is 0 (the first fragment
 * carries the TCP header). Walked at most IPV6_EXT_MAX deep; anything else (AH, ESP, a later
 * fragment, a deeper chain) leaves the packet unparsed. On return *l4 is past the headers. */
#define IPV6_EXT_MAX 4
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
static __always_inline __u8 skip_ipv6_ext(__u8 nexthdr, const unsigned char **l4)
{
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (nexthdr != NEXTHDR_HOP && nexthdr != NEXTHDR_ROUTING && nexthdr != NEXTHDR_DEST &&
		    nexthdr != NEXTHDR_FRAGMENT)
			return nexthdr;
		__u8 ext[4];
		if (bpf_probe_read_kernel(ext, sizeof(ext), *l4))
			return 255;
		if (nexthdr == NEXTHDR_FRAGMENT) {
			if (((ext[2] << 8) | ext[3]) & 0xfff8) /* not the first fragment: no TCP header */
				return 255;
			*l4 += 8;
		} else {
			*l4 += (ext[1] + 1) * 8;
		}
		nexthdr = ext[0];
	}
	return 255;
}

static __always_inline int peek_l4(const unsigned char *l3, __u16 proto, struct l4peek *k)
{
	__builtin_memset(k, 0, sizeof(*k)); /* every path leaves it defined, as the verifier wants */
	if (proto == bpf_htons(ETH_P_IP)) {
		__u8 b[34]; /* IPv4 header without options + TCP up to its flags */
		if (bpf_probe_read_kernel(b, sizeof(b), l3) || (b[0] >> 4) != 4)
			return -1;
		if (((b[6] & 0x1f) | b[7]) != 0)
			return -1;
		k->proto = b[9];
		__u32 ihl = (b[0] & 0xf) * 4;
		const __u8 *t = b + 20;
		__u8 opt[14];
		if (ihl != 20) {
			if (ihl < 20 || bpf_probe_read_kernel(opt, sizeof(opt), l3 + ihl))
				return -1;
			t = opt;
		}
		k->sport = ((__u16)t[0] << 8) | t[1];
		k->dport = ((__u16)t[2] << 8) | t[3];
		k->flags = t[13];
		return 0;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		__u8 b[54]; /* IPv6 header + TCP up to its flags */
		if (bpf_probe_read_kernel(b, sizeof(b), l3) || (b[0] >> 4) != 6)
			return -1;
		k->proto = b[6];
		const __u8 *t = b + 40;
		__u8 past_ext[14];
		if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_ICMPV6_) {
			const unsigned char *l4 = l3 + 40;
			k->proto = skip_ipv6_ext(k->proto, &l4);
			if (k->proto != IPPROTO_TCP)
				return 0;
			if (bpf_probe_read_kernel(past_ext, sizeof(past_ext), l4))
				return -1;
			t = past_ext;
		}
		k->sport = ((__u16)t[0] << 8) | t[1];
		k->dport = ((__u16)t[2] << 8) | t[3];
		k->flags = t[13];
		return 0;
	}
	return -1;
}

static __always_inline bool netns_watched(__u32 inum)
{
	return watch_netns == 0 || inum == watch_netns;
}

/* Whether addr is the watched namespace's own (one of its addresses, or loopback): a packet to or
 * from another address passes through it (to a container or VM behind a bridge, a router's other
 * side). Tested with one watched namespace only: with --all-netns (watch_netns 0) the map holds no
 * namespace's set and every address counts as local (userspace tells forwarded SYNs apart from its
 * snapshots there), as it does before the set is known. addr is zero-padded past an IPv4 address. */
static __always_inline bool addr_local(__u16 family, const __u8 *addr)
{
	if (!watch_netns)
		return true;
	if (family == AF_INET && addr[0] == 127)
		return true;
	if (family == AF_INET6 && addr[15] == 1) {
		bool low_zero = true;
#pragma unroll
		for (int i = 0; i < 15; i++)
			low_zero = low_zero && addr[i] == 0;
		if (low_zero)
			return true; /* ::1 */
	}
	struct synwhy_addr_key k = {};
	if (!bpf_map_lookup_elem(&watched_addrs, &k))
		return true; /* the set is not known: nothing is taken for forwarded */
	k.family = family;
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&watched_addrs, &k) != NULL;
}

/* Parse the IP and TCP headers starting at l3 (one probe read for the common case). For an
 * ICMP/ICMPv6 error the quoted packet's TCP ports are returned instead, with icmp_type set. */
/* One read covers an IPv6 header or an option-less IPv4 header plus the first 14 bytes of TCP. */
#define HDR_BYTES (40 + 14)
struct raw_hdrs {
	__u8 b[HDR_BYTES];
};

static __always_inline int read_tcp_at(const void *p, struct pkt *out)
{
	__u8 tcp[14];
	if (bpf_probe_read_kernel(tcp, sizeof(tcp), p))
		return -1;
	out->sport = ((__u16)tcp[0] << 8) | tcp[1];
	out->dport = ((__u16)tcp[2] << 8) | tcp[3];
	out->tcp_flags = tcp[13];
	return 0;
}

static __always_inline void tcp_from(const __u8 *tcp, struct pkt *out)
{
	out->sport = ((__u16)tcp[0] << 8) | tcp[1];
	out->dport = ((__u16)tcp[2] << 8) | tcp[3];
	out->tcp_flags = tcp[13];
}

static __always_inline int parse_l3(const unsigned char *l3, __u16 proto, struct pkt *out,
				    bool allow_icmp)
{
	struct raw_hdrs h;
	if (bpf_probe_read_kernel(&h, sizeof(h), l3))
		return -1;
	__u8 l4proto;
	const unsigned char *l4;
	const __u8 *l4b; /* the L4 header within h, when it is there */
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip4 = (struct iphdr *)h.b;
		if (ip4->version != 4 || ip4->ihl < 5)
			return -1;
		out->family = AF_INET;
		__builtin_memcpy(out->saddr, &ip4->saddr, 4);
		__builtin_memcpy(out->daddr, &ip4->daddr, 4);
		l4proto = ip4->protocol;
		l4 = l3 + ip4->ihl * 4;
		l4b = h.b + 20;
		if (l4proto == IPPROTO_TCP) {
			if (ip4->ihl == 5) {
				tcp_from(l4b, out);
				return 0;
			}
			return read_tcp_at(l4, out);
		}
		if (allow_icmp && l4proto == IPPROTO_ICMP && ip4->ihl == 5 && (l4b[0] == 3 || l4b[0] == 11)) {
			out->icmp_type = l4b[0];
			out->icmp_code = l4b[1];
			goto quoted;
		}
		return -1;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)h.b;
		if (ip6->version != 6)
			return -1;
		out->family = AF_INET6;
		__builtin_memcpy(out->saddr, &ip6->saddr, 16);
		__builtin_memcpy(out->daddr, &ip6->daddr, 16);
		l4proto = ip6->nexthdr;
		l4 = l3 + 40;
		l4b = h.b + 40;
		if (l4proto == IPPROTO_TCP) {
			tcp_from(l4b, out);
			return 0;
		}
		if (l4proto != IPPROTO_ICMPV6_) {
			if (skip_ipv6_ext(l4proto, &l4) != IPPROTO_TCP)
				return -1;
			return read_tcp_at(l4, out);
		}
		if (allow_icmp && l4proto == IPPROTO_ICMPV6_ && (l4b[0] == 1 || l4b[0] == 3)) {
			out->icmp_type = l4b[0];
			out->icmp_code = l4b[1];
			goto quoted;
		}
		return -1;
	}
	return -1;

quoted:
	/* The ICMP error quotes the packet it answers: report that packet's addresses and ports
	 * (8 bytes of ICMP header, then the quoted IP header). */
	{
		const unsigned char *inner = l4 + 8;
		struct raw_hdrs q;
		if (bpf_probe_read_kernel(&q, sizeof(q), inner))
			return -1;
		if (out->family == AF_INET) {
			struct iphdr *qip4 = (struct iphdr *)q.b;
			if (qip4->protocol != IPPROTO_TCP || qip4->ihl < 5)
				return -1;
			__builtin_memcpy(out->saddr, &qip4->saddr, 4);
			__builtin_memcpy(out->daddr, &qip4->daddr, 4);
			if (qip4->ihl == 5) {
				tcp_from(q.b + 20, out);
				return 0;
			}
			return read_tcp_at(inner + qip4->ihl * 4, out);
		}
		struct ipv6hdr *qip6 = (struct ipv6hdr *)q.b;
		if (qip6->nexthdr != IPPROTO_TCP)
			return -1;
		__builtin_memcpy(out->saddr, &qip6->saddr, 16);
		__builtin_memcpy(out->daddr, &qip6->daddr, 16);
		tcp_from(q.b + 40, out);
		return 0;
	}
}

/* Where the packet's IP header starts, once the stack has set it; NULL before. */
static __always_inline const unsigned char *skb_l3(struct sk_buff *skb)
{
	__u16 nh = skb->network_header;
	return nh == (__u16)~0U ? NULL : skb->head + nh;
}

static __always_inline int parse_skb_l3(struct sk_buff *skb, struct pkt *out, bool allow_icmp)
{
	const unsigned char *l3 = skb_l3(skb);
	return l3 ? parse_l3(l3, skb->protocol, out, allow_icmp) : -1;
}

static __always_inline struct synwhy_event *new_event(__u8 kind)
{
	struct synwhy_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(SYNWHY_STAT_RINGBUF_FULL);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

/* Hand a record over. Userspace is woken only when this is the one record pending (it was idle,
 * waiting): while it drains a burst, more records join without a wakeup each, which under a flood
 * saves a wakeup (and a context switch) per event. A record left behind by a drain is read at
 * the next one, or at userspace's poll timeout (100 ms) at the latest. */
static __always_inline void submit(struct synwhy_event *e)
{
	__u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, pending > sizeof(*e) + 8 ? BPF_RB_NO_WAKEUP : 0);
}

static __always_inline void fill_from_pkt(struct synwhy_event *e, const struct pkt *p)
{
	__builtin_memcpy(e->saddr, p->saddr, 16);
	__builtin_memcpy(e->daddr, p->daddr, 16);
	e->sport = p->sport;
	e->dport = p->dport;
	e->family = p->family;
	e->tcp_flags = p->tcp_flags;
	e->icmp_type = p->icmp_type;
	e->icmp_code = p->icmp_code;
	e->vlan_id = p->vlan_id;
	e->nat_dport = p->nat_dport;
	__builtin_memcpy(e->nat_daddr, p->nat_daddr, 16);
}

static __always_inline void fill_dev(struct synwhy_event *e, struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	if (!dev)
		return;
	e->ifindex = BPF_CORE_READ(dev, ifindex);
	BPF_CORE_READ_STR_INTO(&e->ifname, dev, name);
}

/* Reserve a record, fill it from the parsed packet and its device, and hand it over. With
 * --pcap (copy_packets), l3 is where the packet's IP header starts: its first bytes go along. */
static __always_inline void emit_pkt(__u8 kind, const struct pkt *p, __u32 netns, struct sk_buff *skb,
				     __u32 reason, __u64 location, const unsigned char *l3)
{
	/* Which end is the client: the source of what comes in (and of the SYN an ICMP error
	 * quotes), the destination of what answers. The server's port is the other end's. */
	bool answer = (kind == SYNWHY_EV_TX && !p->icmp_type) || (kind == SYNWHY_EV_DROP && p->reply);
	/* An ICMP error leaving (TX) is told from a TCP segment by a reason of its type + 1. The
	 * totals are the watched namespaces' own packets (see counted_apart). */
	if (kind == SYNWHY_EV_TX && p->icmp_type)
		count_packet(kind, netns, p->dport, p->icmp_code, p->icmp_type + 1);
	else if (!p->counted_apart)
		count_packet(kind, netns, answer ? p->sport : p->dport, p->tcp_flags, reason);
	/* Detail is a consistent sample: a flow's first SYN takes a token of the rate bound and puts
	 * the client in pending_clients; the flow's later events go up only if it is there. */
	struct client_key ck = {.port = answer ? p->dport : p->sport, .family = p->family};
	__builtin_memcpy(ck.addr, answer ? p->daddr : p->saddr, 16);
	struct pending_client *pending = bpf_map_lookup_elem(&pending_clients, &ck);
	if (!pending) {
		if (kind != SYNWHY_EV_SYN_RX)
			return;
		if (!take_detail_token()) {
			count(SYNWHY_STAT_RATE_LIMITED);
			return;
		}
		struct pending_client first = {.last_syn_ns = bpf_ktime_get_ns(), .netns = netns};
		bpf_map_update_elem(&pending_clients, &ck, &first, BPF_ANY);
	} else if (kind == SYNWHY_EV_SYN_RX && pending->netns == netns) {
		pending->last_syn_ns = bpf_ktime_get_ns(); /* a retransmission */
	}
	struct synwhy_event *e = new_event(kind);
	if (!e)
		return;
	fill_from_pkt(e, p);
	if (copy_packets && l3) {
		/* The linear area holds at least the headers parsed above; a shorter packet's tail
		 * is cut by userspace from the IP length. */
		if (!bpf_probe_read_kernel(e->packet, sizeof(e->packet), l3))
			e->packet_len = sizeof(e->packet);
		else if (!bpf_probe_read_kernel(e->packet, 60, l3))
			e->packet_len = 60;
	}
	e->netns = netns;
	e->reason = reason;
	e->location = location;
	fill_dev(e, skb);
	submit(e);
}

static __always_inline bool is_ip(struct sk_buff *skb)
{
	__u16 proto = skb->protocol;
	return proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6);
}

/* A handshake segment (SYN, SYN-ACK, RST, the ACK, an ICMP error quoting one) is one packet no
 * larger than a jumbo frame; GRO/GSO aggregates of bulk traffic are far larger and are never
 * one. Told from skb->len, without touching the packet's bytes (the costly cache miss). */
#define MAX_HANDSHAKE_BYTES 9216
static __always_inline bool maybe_handshake(struct sk_buff *skb)
{
	return skb->len <= MAX_HANDSHAKE_BYTES && is_ip(skb);
}

/* A segment of a full socket's flow has that socket's local port at one end and its remote port
 * at the other (sent: sport = local; received or freed on its way in: dport = local). When the
 * ends that matter are not watched, the segment belongs to no watched flow, and its bytes (the
 * costly cache miss) are not read: told from the socket alone, which the stack has just used.
 * Always inspected: request and timewait socks (SYN-ACKs, timewait RSTs), and raw sockets, whose
 * inet_num is their protocol, not a port: the per-netns TCP and ICMP control sockets that send
 * the kernel's RSTs and ICMP errors. (A TPROXY-assigned socket has other ports than its packets:
 * such set-ups are not watched through a proxy's port.) */
static __always_inline bool of_unwatched_socket(struct sk_buff *skb, bool remote_end_too)
{
	struct sock *sk = skb->sk;
	if (!sk)
		return false;
	__u8 state = sk->__sk_common.skc_state;
	__u16 num = sk->__sk_common.skc_num;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return false;
	if (num == IPPROTO_TCP || num == IPPROTO_ICMP || num == IPPROTO_ICMPV6_ || port_watched(num))
		return false;
	return !remote_end_too || !port_watched(bpf_ntohs(sk->__sk_common.skc_dport));
}

/* ---- arrival ---------------------------------------------------------------------------- */

/* Before 6.2 a tag held in skb metadata was flagged by the vlan_present bit; since, by a
 * non-zero vlan_proto (vlan_all). */
struct sk_buff___vlan_present {
	__u8 vlan_present : 1;
} __attribute__((preserve_access_index));

/* The VLAN id of an offloaded tag (the lower device took it out of the frame), 0 without. */
static __always_inline __u16 offloaded_vlan_id(struct sk_buff *skb)
{
	struct sk_buff___vlan_present *old = (void *)skb;
	bool tagged;
	if (bpf_core_field_exists(old->vlan_present))
		tagged = BPF_CORE_READ_BITFIELD(old, vlan_present);
	else
		tagged = skb->vlan_proto != 0;
	return tagged ? skb->vlan_tci & 0x0fff : 0;
}

/* A frame tagged in the packet itself (no offload) arrives with skb->protocol 0x8100 (or 0x88a8)
 * and data at the tag; the stack takes the tag out only after this tracepoint and does not
 * fire it again. Steps over up to two tags (802.1ad QinQ): *l3 and *proto end at the IP header,
 * *vlan_id is the innermost tag's id. */
static __always_inline int skip_vlan_tags(const unsigned char **l3, __u16 *proto, __u16 *vlan_id)
{
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (*proto != bpf_htons(ETH_P_8021Q) && *proto != bpf_htons(ETH_P_8021AD))
			return 0;
		__u8 tag[4]; /* TCI, then the encapsulated protocol */
		if (bpf_probe_read_kernel(tag, sizeof(tag), *l3))
			return -1;
		*vlan_id = ((tag[0] << 8) | tag[1]) & 0x0fff;
		__builtin_memcpy(proto, tag + 2, 2);
		*l3 += 4;
	}
	return *proto == bpf_htons(ETH_P_8021Q) || *proto == bpf_htons(ETH_P_8021AD) ? -1 : 0;
}

/* A bridge hands what it passes up to its own device to netif_receive_skb a second time; the
 * frame was seen on the port it came in by (where a bridge-family rule may still drop it), so
 * the second sighting is not an arrival. */
static __always_inline bool is_bridge_device(struct net_device *dev)
{
	__u64 flags = BPF_CORE_READ_BITFIELD(dev, priv_flags);
	return flags & bpf_core_enum_value(enum netdev_priv_flags, IFF_EBRIDGE);
}

/* The lower device of macvlans: a frame for a macvlan is handed to it by the lower device's
 * rx_handler within the same receive, so a SYN to a macvlan in the watched netns (a container's)
 * passes this tracepoint only here, in the lower device's namespace. */
static __always_inline bool is_macvlan_lower(struct net_device *dev)
{
	__u64 flags = BPF_CORE_READ_BITFIELD(dev, priv_flags);
	return flags & bpf_core_enum_value(enum netdev_priv_flags, IFF_MACVLAN_PORT);
}

/* The lower device of ipvlans: its rx_handler is ipvlan_handle_frame (6.x has no priv flag for
 * it); like a macvlan's, a frame for an ipvlan in the watched netns passes this tracepoint only on
 * the lower device, in the lower device's namespace (the handler hands it on with
 * RX_HANDLER_ANOTHER, within the same receive). */
static __always_inline bool is_ipvlan_lower(struct net_device *dev)
{
	__u64 handler = ipvlan_rx_handler;
	return handler && (__u64)BPF_CORE_READ(dev, rx_handler) == handler;
}

/* Whether a SYN seen on a macvlan lower device in another namespace goes to the watched one:
 * its destination is one of the watched namespace's addresses (userspace keeps them here). */
static __always_inline bool to_watched_address(const struct pkt *p)
{
	struct synwhy_addr_key k = {.family = p->family};
	__builtin_memcpy(k.addr, p->daddr, 16);
	return bpf_map_lookup_elem(&watched_addrs, &k) != NULL;
}

/* Whether this SYN's client end sent a SYN that arrived in another watched namespace within the
 * last second: with --all-netns, a DNAT (a container's published port) sends the SYN on to the
 * container's namespace, where it arrives a second time with its new destination. One SYN, one
 * count: the second arrival is counted apart and marked for userspace to join. */
static __always_inline bool sent_on_from_watched_netns(const struct pkt *p, __u32 netns)
{
	struct client_key ck = client_of(p);
	struct pending_client *pending = bpf_map_lookup_elem(&pending_clients, &ck);
	return pending && pending->netns != netns && bpf_ktime_get_ns() - pending->last_syn_ns < SAME_SYN_WITHIN_NS;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(syn_rx, struct sk_buff *skb)
{
	if (skb->len > MAX_HANDSHAKE_BYTES || !skb->dev || is_bridge_device(skb->dev))
		return 0;
	__u32 netns = skb_netns(skb);
	bool via_lower_device = false;
	if (!netns_watched(netns)) {
		if (!watch_netns || !(is_macvlan_lower(skb->dev) || is_ipvlan_lower(skb->dev)))
			return 0;
		via_lower_device = true; /* confirmed below by the destination address */
		netns = watch_netns;
	}
	/* At this tracepoint the network header is not reset yet; skb->data points at it (or at
	 * the VLAN tags before it). */
	const unsigned char *l3 = skb->data;
	__u16 proto = skb->protocol;
	__u16 vlan_id = offloaded_vlan_id(skb);
	if (skip_vlan_tags(&l3, &proto, &vlan_id))
		return 0;
	struct l4peek k;
	if (peek_l4(l3, proto, &k) || k.proto != IPPROTO_TCP ||
	    (k.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) != TCP_FLAG_SYN)
		return 0;
	struct pkt p = {};
	if (parse_l3(l3, proto, &p, false))
		return 0;
	if (via_lower_device && !to_watched_address(&p))
		return 0;
	p.vlan_id = vlan_id;
	if (!port_watched(p.dport)) {
		/* Counted only: a client knocking on another port is evidence, not an event. */
		struct synwhy_other_port_key k = {.netns = netns, .dport = p.dport, .family = p.family};
		__builtin_memcpy(k.saddr, p.saddr, 16);
		__builtin_memcpy(k.daddr, p.daddr, 16);
		__u64 *n = bpf_map_lookup_elem(&other_port_syns, &k);
		if (n) {
			__sync_fetch_and_add(n, 1);
		} else {
			__u64 one = 1;
			bpf_map_update_elem(&other_port_syns, &k, &one, BPF_NOEXIST);
		}
		return 0;
	}
	/* To an address that is not the namespace's own: it only passes through (a container's or VM's
	 * SYN on a bridge port or routed; a published port's SYN is still to this host's address here,
	 * before its DNAT). Counted apart, and neither detailed nor charged to the detail budget. */
	if (!via_lower_device && !addr_local(p.family, p.daddr)) {
		count(SYNWHY_STAT_SYN_FORWARDED);
		count_packet(SYNWHY_COUNT_SYN_FORWARDED, netns, p.dport, p.tcp_flags, 0);
		struct client_key ck = client_of(&p);
		__u64 now = bpf_ktime_get_ns();
		bpf_map_update_elem(&passing_syns, &ck, &now, BPF_ANY);
		return 0;
	}
	if (sent_on_from_watched_netns(&p, netns)) {
		count(SYNWHY_STAT_SYN_AGAIN);
		count_packet(SYNWHY_COUNT_SYN_AGAIN, netns, p.dport, p.tcp_flags, 0);
		p.counted_apart = true;
		emit_pkt(SYNWHY_EV_SYN_RX, &p, netns, skb, SYNWHY_SYN_AGAIN, 0, l3);
		return 0;
	}
	count(SYNWHY_STAT_SYN_RX);
	emit_pkt(SYNWHY_EV_SYN_RX, &p, netns, skb, 0, 0, l3);
	return 0;
}

/* ---- drops ------------------------------------------------------------------------------ */

/* skb's conntrack entry, or NULL: none, or a kernel without conntrack or its types in BTF. */
static __always_inline struct nf_conn *skb_conntrack(struct sk_buff *skb)
{
	if (!bpf_core_field_exists(skb->_nfct) || !bpf_core_type_exists(struct nf_conn))
		return NULL;
	unsigned long nfct = BPF_CORE_READ(skb, _nfct);
	return (struct nf_conn *)(nfct & ~7UL); /* NFCT_PTRMASK: the low bits are ctinfo */
}

static __always_inline bool same_address(const __u8 *a, const __u8 *b)
{
	bool same = true;
	for (int i = 0; i < 16; i++)
		same = same && a[i] == b[i];
	return same;
}

/* The destination a DNAT gave this packet's connection, from conntrack (NAT happens there, and
 * the packet has only the new one): true and p->nat_* set when the original tuple's destination
 * differs from the packet's; then p's destination becomes the original, the one the client and
 * the flow know. */
static __always_inline bool nat_original_dst(struct sk_buff *skb, struct pkt *p)
{
	struct nf_conn *ct = skb_conntrack(skb);
	if (!ct)
		return false;
	__u8 orig[16] = {};
	__be16 orig_port = 0;
	if (bpf_core_read(orig, p->family == AF_INET ? 4 : 16, &ct->tuplehash[0].tuple.dst.u3) ||
	    bpf_core_read(&orig_port, sizeof(orig_port), &ct->tuplehash[0].tuple.dst.u.tcp.port))
		return false;
	__u16 port = bpf_ntohs(orig_port);
	if (!port || (port == p->dport && same_address(orig, p->daddr)))
		return false;
	__builtin_memcpy(p->nat_daddr, p->daddr, 16);
	p->nat_dport = p->dport;
	__builtin_memcpy(p->daddr, orig, 16);
	p->dport = port;
	return true;
}

/* Whether the answer skb belongs to a connection DNATed to one of this namespace's own addresses:
 * conntrack's original destination (the one the client chose, which the answer leaves with as its
 * source) is not where the reply comes from, and that is local. Then syn is the SYN as the client
 * sent it, with its new destination in nat_*. */
static __always_inline bool answer_of_dnat_to_here(struct sk_buff *skb, __u16 family, struct pkt *syn)
{
	struct nf_conn *ct = skb_conntrack(skb);
	if (!ct)
		return false;
	__u32 len = family == AF_INET ? 4 : 16;
	__be16 sport = 0, dport = 0, reply_sport = 0;
	if (bpf_core_read(syn->saddr, len, &ct->tuplehash[0].tuple.src.u3) ||
	    bpf_core_read(syn->daddr, len, &ct->tuplehash[0].tuple.dst.u3) ||
	    bpf_core_read(syn->nat_daddr, len, &ct->tuplehash[1].tuple.src.u3) ||
	    bpf_core_read(&sport, sizeof(sport), &ct->tuplehash[0].tuple.src.u.tcp.port) ||
	    bpf_core_read(&dport, sizeof(dport), &ct->tuplehash[0].tuple.dst.u.tcp.port) ||
	    bpf_core_read(&reply_sport, sizeof(reply_sport), &ct->tuplehash[1].tuple.src.u.tcp.port))
		return false;
	if ((dport == reply_sport && same_address(syn->daddr, syn->nat_daddr)) || !addr_local(family, syn->nat_daddr))
		return false;
	syn->family = family;
	syn->sport = bpf_ntohs(sport);
	syn->dport = bpf_ntohs(dport);
	syn->nat_dport = bpf_ntohs(reply_sport);
	syn->tcp_flags = TCP_FLAG_SYN;
	return true;
}

/* A SYN counted as passing through at its arrival (to an address not the namespace's) whose
 * connection the namespace then handles itself after a DNAT to one of its own addresses: one of
 * its own SYNs after all, counted and detailed now, with both tuples. Once per arrival: its
 * passing_syns entry is consumed. syn is the SYN in the client's tuple, nat_* set. A function of
 * its own (not inlined): with a second emit_pkt inlined, a caller such as the RST handler would
 * need more than the 512 bytes of BPF stack. */
static __noinline void promote_passing_syn(struct sk_buff *skb, const struct pkt *syn, __u32 netns)
{
	struct client_key ck = client_of(syn);
	__u64 *arrived = bpf_map_lookup_elem(&passing_syns, &ck);
	if (!arrived)
		return;
	bool recent = bpf_ktime_get_ns() - *arrived < SAME_SYN_WITHIN_NS;
	bpf_map_delete_elem(&passing_syns, &ck);
	if (!recent || !port_watched(syn->dport))
		return;
	count(SYNWHY_STAT_SYN_RX);
	count(SYNWHY_STAT_SYN_DNAT_HERE);
	count_packet(SYNWHY_COUNT_SYN_DNAT_HERE, netns, syn->dport, syn->tcp_flags, 0);
	emit_pkt(SYNWHY_EV_SYN_RX, syn, netns, skb, 0, 0, NULL);
}

/* The SYN skb after a DNAT, in a watched namespace (dropped, or answered by TCP or ICMP): p takes
 * the client's tuple (nat_original_dst) and, when the DNAT sent it to one of this namespace's
 * addresses, a SYN counted as passing through at its arrival is promoted. */
static __always_inline bool see_dnat(struct sk_buff *skb, struct pkt *p, __u32 netns)
{
	if (!nat_original_dst(skb, p))
		return false;
	if (addr_local(p->family, p->nat_daddr))
		promote_passing_syn(skb, p, netns);
	return true;
}

/* Whether the source of this SYN is a client whose SYN to a watched port was detailed (kept,
 * unlike followed_client's consumption at the handshake). */
static __always_inline bool from_followed_client(const struct pkt *p)
{
	struct client_key ck = client_of(p);
	return bpf_map_lookup_elem(&pending_clients, &ck) != NULL;
}

/* A dropped packet belongs to a watched flow when it goes to a watched port (the SYN, or any
 * segment of it), comes from one (the SYN-ACK or RST answering it), was DNATed away from one
 * (a published port's SYN dropped in FORWARD), or is a followed client's SYN dropped in a
 * namespace not watched (a DNAT target's: the container refused it). */
static __always_inline int on_drop(struct sk_buff *skb, __u64 location, __u32 reason)
{
	if (!maybe_handshake(skb) || of_unwatched_socket(skb, true))
		return 0;
	__u32 netns = skb_netns(skb);
	bool here = netns_watched(netns);
	const unsigned char *l3 = skb_l3(skb);
	struct l4peek k;
	if (!l3 || peek_l4(l3, skb->protocol, &k) || k.proto != IPPROTO_TCP)
		return 0;
	/* Handshake segments only: the SYN or the ACK completing it towards the port, the SYN-ACK or
	 * RST answering from it. A FIN purged from a closing socket says nothing about the SYN. */
	__u8 fl = k.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN);
	bool syn = fl == TCP_FLAG_SYN;
	bool inbound = here && port_watched(k.dport) && (syn || fl == TCP_FLAG_ACK);
	bool reply = here && port_watched(k.sport) && (fl == (TCP_FLAG_SYN | TCP_FLAG_ACK) || (fl & TCP_FLAG_RST));
	if (!inbound && !reply && !syn)
		return 0;
	struct pkt p = {};
	if (parse_l3(l3, skb->protocol, &p, false))
		return 0;
	/* A SYN is judged by the destination its client chose: before a DNAT (host :2222 -> a
	 * container's :22), whose flow it belongs to. */
	bool nat = syn && here && see_dnat(skb, &p, netns);
	if (nat) {
		inbound = port_watched(p.dport);
	} else if (syn && !here) {
		inbound = from_followed_client(&p);
		p.counted_apart = true;
	}
	/* A segment this namespace only forwards (to or from an address not its own, no DNAT from
	 * one of its own) is not of its flows: neither counted in its totals nor detailed. */
	if (here && !nat) {
		inbound = inbound && addr_local(p.family, p.daddr);
		reply = reply && addr_local(p.family, p.saddr);
	}
	if (!inbound && !reply)
		return 0;
	p.reply = reply;
	emit_pkt(SYNWHY_EV_DROP, &p, netns, skb, reason, location, NULL);
	return 0;
}

/* 5.17+: kfree_skb(skb, location, reason[, rx_sk]) */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_reason, struct sk_buff *skb, void *location, int reason)
{
	return on_drop(skb, (__u64)location, (__u32)reason);
}

/* Before 5.17: kfree_skb(skb, location), no reason. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_noreason, struct sk_buff *skb, void *location)
{
	return on_drop(skb, (__u64)location, 0);
}

/* ---- answers sent ------------------------------------------------------------------------ */

static __always_inline int on_send_reset(struct sk_buff *skb, __u32 reason_plus_one)
{
	/* skb is the segment being answered; NULL for active resets of a socket (not a SYN). */
	if (!skb || !is_ip(skb))
		return 0;
	__u32 netns = skb_netns(skb);
	if (!netns_watched(netns))
		return 0;
	struct pkt p = {};
	if (parse_skb_l3(skb, &p, false))
		return 0;
	if (!(p.tcp_flags & TCP_FLAG_SYN) || !port_watched(p.dport))
		return 0;
	see_dnat(skb, &p, netns);
	emit_pkt(SYNWHY_EV_RST_SENT, &p, netns, skb, reason_plus_one, 0, NULL);
	return 0;
}

/* 6.10+: tcp_send_reset(sk, skb, enum sk_rst_reason) */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_send_reset_reason, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	return on_send_reset((struct sk_buff *)skb, (__u32)reason + 1);
}

/* Before 6.10: tcp_send_reset(sk, skb) */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_send_reset_noreason, const struct sock *sk, const struct sk_buff *skb)
{
	return on_send_reset((struct sk_buff *)skb, 0);
}

/* icmp_send(skb, type, code): skb is the packet the ICMP error answers (IPv4 only). */
SEC("tp_btf/icmp_send")
int BPF_PROG(icmp_send, const struct sk_buff *skb, int type, int code)
{
	struct sk_buff *s = (struct sk_buff *)skb;
	if (!is_ip(s))
		return 0;
	__u32 netns = skb_netns(s);
	if (!netns_watched(netns))
		return 0;
	struct pkt p = {};
	if (parse_skb_l3(s, &p, false) || !port_watched(p.dport) || !addr_local(p.family, p.daddr))
		return 0;
	see_dnat(s, &p, netns);
	p.icmp_type = type;
	p.icmp_code = code;
	emit_pkt(SYNWHY_EV_ICMP_SENT, &p, netns, s, 0, 0, NULL);
	return 0;
}

/* Whether this skb, with these ports, left through an upper device on this CPU within the last
 * millisecond (see struct tx_sighting). A freed skb's memory is soon reused, but not for an answer
 * on the same ports within a millisecond: the stack's retransmissions are a second or more apart. */
static __always_inline bool seen_leaving_already(struct sk_buff *skb, const struct pkt *p)
{
	__u32 zero = 0;
	struct tx_sighting *last = bpf_map_lookup_elem(&last_tx, &zero);
	if (!last)
		return false;
	__u64 now = bpf_ktime_get_ns();
	__u32 ports = ((__u32)p->sport << 16) | p->dport;
	bool again = last->skb == (__u64)skb && last->ports == ports && now - last->ts_ns < 1000000;
	last->skb = (__u64)skb;
	last->ts_ns = now;
	last->ports = ports;
	return again;
}

/* Every packet handed to a device: keep RSTs and SYN-ACKs from a watched port, whoever made
 * them (the TCP stack or a firewall's reject), and ICMP errors quoting a SYN to one. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(tx, struct sk_buff *skb)
{
	if (!maybe_handshake(skb) || of_unwatched_socket(skb, false))
		return 0;
	__u32 netns = skb_netns(skb);
	if (!netns_watched(netns))
		return 0;
	const unsigned char *l3 = skb_l3(skb);
	struct l4peek k;
	if (!l3 || peek_l4(l3, skb->protocol, &k))
		return 0;
	/* The decision on a TCP segment is taken here; an ICMP error's is on the SYN it quotes. */
	if (k.proto == IPPROTO_TCP) {
		bool rst = k.flags & TCP_FLAG_RST;
		bool synack = (k.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == (TCP_FLAG_SYN | TCP_FLAG_ACK);
		if (!port_watched(k.sport) || (!rst && !synack))
			return 0;
	} else if (k.proto != IPPROTO_ICMP && k.proto != IPPROTO_ICMPV6_) {
		return 0;
	}
	struct pkt p = {};
	if (parse_l3(l3, skb->protocol, &p, true) || (p.icmp_type && !port_watched(p.dport)))
		return 0;
	/* The server end must be this namespace's own: a container's SYN-ACK (or an error about a SYN
	 * to it) that the namespace only forwards is not its answer. */
	bool ours = addr_local(p.family, p.icmp_type ? p.daddr : p.saddr);
	if (!ours) {
		/* Leaving with a source restored by a DNAT to one of its addresses: its own answer. */
		struct pkt syn = {};
		ours = answer_of_dnat_to_here(skb, p.family, &syn);
		if (ours)
			promote_passing_syn(skb, &syn, netns);
	}
	if (!ours || seen_leaving_already(skb, &p))
		return 0;
	emit_pkt(SYNWHY_EV_TX, &p, netns, skb, 0, 0, l3);
	return 0;
}

/* ---- socket state ------------------------------------------------------------------------- */

static __always_inline void fill_from_sock_common(struct synwhy_event *e, struct sock_common *c)
{
	e->family = BPF_CORE_READ(c, skc_family);
	e->sport = BPF_CORE_READ(c, skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	/* Explicit sizes: BPF_CORE_READ_INTO on an array destination would copy one byte. */
	if (e->family == AF_INET) {
		bpf_core_read(e->saddr, 4, &c->skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &c->skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &c->skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &c->skc_v6_daddr);
	}
}

/* Whether the remote end of sk is a client whose SYN arrived in the watched netns (consumed). */
static __always_inline bool followed_client(const struct sock *sk)
{
	struct client_key ck = {};
	ck.port = bpf_ntohs(sk->__sk_common.skc_dport);
	__u16 family = sk->__sk_common.skc_family;
	if (family == AF_INET) {
		ck.family = AF_INET;
		bpf_core_read(ck.addr, 4, &sk->__sk_common.skc_daddr);
	} else {
		__u8 a[16];
		bpf_core_read(a, 16, &sk->__sk_common.skc_v6_daddr);
		/* An IPv4 client of a dual-stack socket appears as ::ffff:a.b.c.d. */
		bool mapped = a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0 && a[4] == 0 && a[5] == 0 &&
			      a[6] == 0 && a[7] == 0 && a[8] == 0 && a[9] == 0 && a[10] == 0xff && a[11] == 0xff;
		if (mapped) {
			ck.family = AF_INET;
			__builtin_memcpy(ck.addr, a + 12, 4);
		} else {
			ck.family = AF_INET6;
			__builtin_memcpy(ck.addr, a, 16);
		}
	}
	if (!bpf_map_lookup_elem(&pending_clients, &ck))
		return false;
	bpf_map_delete_elem(&pending_clients, &ck);
	return true;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	bool accepted = oldstate == TCP_SYN_RECV_ && newstate == TCP_ESTABLISHED_;
	/* A listener starts (-> LISTEN) or stops (LISTEN -> CLOSE); a child cloned from a listener
	 * also leaves LISTEN (-> SYN_RECV) and is not a listener change. */
	bool listen = newstate == TCP_LISTEN_ || (oldstate == TCP_LISTEN_ && newstate == TCP_CLOSE_);
	if (!accepted && !listen)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	__u16 port = sk->__sk_common.skc_num;
	__u32 netns = net_inum(sk->__sk_common.skc_net.net);
	bool here = port_watched(port) && netns_watched(netns);
	if (accepted) {
		if (here)
			count_packet(SYNWHY_EV_STATE, netns, port, TCP_ESTABLISHED_, 0);
		/* Only a handshake of a client whose SYN was detailed: here, or elsewhere when a DNAT
		 * sent it there (a container's :22 behind the host's :2222). */
		if (!followed_client(sk))
			return 0;
	} else if (!here) {
		return 0;
	}
	struct synwhy_event *e = new_event(SYNWHY_EV_STATE);
	if (!e)
		return 0;
	fill_from_sock_common(e, (struct sock_common *)&sk->__sk_common);
	e->netns = netns;
	e->old_state = oldstate;
	e->new_state = newstate;
	if (listen) {
		/* listen() and close() run in the owner's context: name it, and watch its exit. */
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		e->pid = tgid;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		if (newstate == TCP_LISTEN_) {
			__u8 one = 1;
			bpf_map_update_elem(&listener_pids, &tgid, &one, BPF_ANY);
		}
	}
	submit(e);
	return 0;
}

/* The exit of a process that listened on a watched port: its status says why it stopped
 * (killed by SIGSEGV, exit 255, ...). Only the thread group leader's exit counts. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	if (p->pid != tgid || !bpf_map_lookup_elem(&listener_pids, &tgid))
		return 0;
	bpf_map_delete_elem(&listener_pids, &tgid);
	struct synwhy_event *e = new_event(SYNWHY_EV_EXIT);
	if (!e)
		return 0;
	e->family = AF_INET; /* not an address event; a valid family keeps the record well-formed */
	e->pid = tgid;
	e->exit_code = p->exit_code;
	e->netns = net_inum(BPF_CORE_READ(p, nsproxy, net_ns));
	BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(synack_retrans, const struct sock *sk, const struct request_sock *req)
{
	__u16 port = req->__req_common.skc_num;
	if (!port_watched(port))
		return 0;
	__u32 netns = net_inum(sk->__sk_common.skc_net.net);
	if (!netns_watched(netns))
		return 0;
	struct synwhy_event *e = new_event(SYNWHY_EV_SYNACK_RETRANS);
	if (!e)
		return 0;
	fill_from_sock_common(e, (struct sock_common *)&req->__req_common);
	e->netns = netns;
	submit(e);
	return 0;
}
