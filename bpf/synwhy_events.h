/* The records the kernel side sends to userspace, shared by bpf/ and userspace/.
 * Plain fixed-width fields, largest first, addresses as 16 bytes for both families.
 * Bump SYNWHY_EVENT_VERSION whenever the layout changes, or what a record, a stat or a map key
 * means (6: SYN_RX and its stat are the namespace's own SYNs; forwarded ones are counted apart;
 * 7: a SYN sent on from one watched namespace to another is counted apart and marked;
 * 8: a SYN counted as passing through and then DNATed to the namespace itself is counted again). */
#ifndef SYNWHY_EVENTS_H
#define SYNWHY_EVENTS_H

#define SYNWHY_EVENT_VERSION 8

/* --pcap: bytes of the packet kept from its IP header on (IP + TCP with options, or an ICMP
 * error with the headers it quotes). */
#define SYNWHY_PACKET_BYTES 128

/* Ports are watched through a bitmap so the per-packet check is one load and one AND. */
#define SYNWHY_PORT_WORDS (65536 / 64)

enum synwhy_event_kind {
	SYNWHY_EV_SYN_RX = 1,	      /* netif_receive_skb: an inbound SYN to a watched port */
	SYNWHY_EV_DROP = 2,	      /* kfree_skb: a packet of a watched flow was dropped */
	SYNWHY_EV_RST_SENT = 3,	      /* tcp_send_reset: the TCP stack answered a segment with RST */
	SYNWHY_EV_ICMP_SENT = 4,      /* icmp_send: an ICMP error was sent for a watched segment */
	SYNWHY_EV_TX = 5,	      /* net_dev_queue: a RST or SYN-ACK from a watched port left */
	SYNWHY_EV_STATE = 6,	      /* inet_sock_set_state on a watched port */
	SYNWHY_EV_SYNACK_RETRANS = 7, /* tcp_retransmit_synack */
	SYNWHY_EV_EXIT = 8,	      /* sched_process_exit of a process that listened on a watched port */
	/* Never an event, a kind of the `counts` map only: a SYN to a watched port that the namespace
	 * it arrived in only forwards (its destination is none of that namespace's addresses). */
	SYNWHY_COUNT_SYN_FORWARDED = 9,
	/* Never an event kind either: a SYN_RX marked SYNWHY_SYN_AGAIN, counted apart. */
	SYNWHY_COUNT_SYN_AGAIN = 10,
	/* Nor this: a SYN counted SYN_FORWARDED at its arrival that a DNAT then sent to one of the
	 * namespace's own addresses (seen when the namespace answers or drops it): counted SYN_RX too. */
	SYNWHY_COUNT_SYN_DNAT_HERE = 11,
};

/* SYN_RX's reason: this SYN arrived in another watched namespace first, within a second, and was
 * sent on here (a DNAT to a container watched with --all-netns): the same SYN, not a new one. */
#define SYNWHY_SYN_AGAIN 1

/* Which optional kernel signals the loaded programs read; reported by userspace. */
enum synwhy_stat {
	SYNWHY_STAT_RINGBUF_FULL = 0, /* events the ring buffer had no room for */
	SYNWHY_STAT_SYN_RX = 1,	      /* inbound SYNs to watched ports, whether detailed or not */
	SYNWHY_STAT_RATE_LIMITED = 2, /* packet events held back by the detail rate bound */
	SYNWHY_STAT_SYN_FORWARDED = 3, /* inbound SYNs to watched ports that the namespace only forwards
					* (not in SYN_RX, never detailed, no detail budget spent) */
	SYNWHY_STAT_SYN_AGAIN = 4,     /* SYNs marked SYNWHY_SYN_AGAIN (not in SYN_RX) */
	SYNWHY_STAT_SYN_DNAT_HERE = 5, /* of SYN_FORWARDED, those a DNAT sent to the namespace itself
					* (counted in SYN_RX when that showed) */
	SYNWHY_STAT_MAX = 6,
};

/* Addresses and ports are as on the wire for the packet or socket concerned:
 * for SYN_RX/DROP/RST_SENT/ICMP_SENT the packet's own src/dst, for TX the reply's (src = server),
 * for STATE/SYNACK_RETRANS src = the local (server) end. Userspace orients them. */
struct synwhy_event {
	__u64 ts_ns;	    /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 location;	    /* DROP: kfree_skb location (kernel text address) */
	__u8 saddr[16];	    /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u8 nat_daddr[16]; /* DROP of a DNATed SYN: the destination it was sent to (daddr/dport
			     * are then conntrack's original ones, the client's view) */
	__u32 netns;	    /* netns inode */
	__u32 ifindex;
	__u32 reason;	    /* DROP: enum skb_drop_reason; RST_SENT: enum sk_rst_reason (+1, 0 = none);
			     * SYN_RX: SYNWHY_SYN_AGAIN or 0 */
	__u32 pid;	    /* STATE (listen changes), EXIT: the process (tgid) */
	__s32 exit_code;    /* EXIT: wait status (signal in the low 7 bits, status << 8) */
	__u16 sport;	    /* host byte order */
	__u16 dport;
	__u16 nat_dport;    /* with nat_daddr; 0: no DNAT seen */
	__u16 family;	    /* AF_INET / AF_INET6 */
	__u8 kind;	    /* enum synwhy_event_kind */
	__u8 tcp_flags;	    /* byte 13 of the TCP header */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 old_state;	    /* STATE */
	__u8 new_state;
	char ifname[16];
	char comm[16];	    /* STATE (listen changes), EXIT */
	__u16 vlan_id;	    /* SYN_RX: the 802.1Q VLAN it came in on (0: untagged), tag in the
			     * packet or in skb metadata (offloaded); ifindex is the lower device */
	__u16 packet_len;   /* bytes of packet[] filled (0: not copied) */
	__u8 packet[SYNWHY_PACKET_BYTES]; /* SYN_RX, TX with copy_packets: from the IP header on */
};

/* One address of the watched netns (map watched_addrs), IPv4 in the first 4 bytes. The all-zero
 * key (family 0) says that the set is known: without it (before userspace read the addresses, or
 * when it could not) no SYN is taken for a forwarded one. */
struct synwhy_addr_key {
	__u8 addr[16];
	__u16 family; /* AF_INET / AF_INET6 */
	__u16 pad;
};

/* Exact per-(netns, port) totals kept in the kernel (map `counts`). kind is the event kind of the
 * packet (SYN_RX, DROP, RST_SENT, ICMP_SENT, TX), or STATE for a handshake completed (what = 1);
 * what is the packet's TCP flags byte; reason is the drop or reset reason as in struct
 * synwhy_event. An ICMP error leaving (TX) has reason = ICMP type + 1 and what = ICMP code. */
struct synwhy_count_key {
	__u32 netns;
	__u16 port;
	__u8 kind;
	__u8 what;
	__u32 reason;
};

/* SYNs to ports that are not watched, counted per (source, destination, port): for
 * `not-arriving`, a client that reached this host on the wrong port (the destination tells a SYN
 * to this host from one it forwards). */
struct synwhy_other_port_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 netns;
	__u16 dport;
	__u16 family;
};

#endif /* SYNWHY_EVENTS_H */
