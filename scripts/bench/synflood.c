// SPDX-License-Identifier: GPL-2.0
/* synflood: send exactly N TCP SYNs (IPv4, raw socket) as fast as the kernel takes them, for
 * scripts/bench.sh. Each SYN has its own source port (cycling 1024..65535) and sequence number.
 * Prints "sent N in NS ns". Usage: synflood SRC DST DPORT N */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64

static unsigned short csum(const void *p, size_t n, unsigned long sum)
{
	const unsigned short *w = p;
	for (; n > 1; n -= 2)
		sum += *w++;
	if (n)
		sum += *(const unsigned char *)w;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)~sum;
}

struct syn {
	struct iphdr ip;
	struct tcphdr tcp;
} __attribute__((packed));

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: synflood SRC DST DPORT N\n");
		return 2;
	}
	struct in_addr src, dst;
	if (inet_pton(AF_INET, argv[1], &src) != 1 || inet_pton(AF_INET, argv[2], &dst) != 1) {
		fprintf(stderr, "synflood: bad address\n");
		return 2;
	}
	unsigned dport = strtoul(argv[3], NULL, 10);
	unsigned long n = strtoul(argv[4], NULL, 10);
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IPPROTO_RAW implies IP_HDRINCL */
	if (fd < 0) {
		perror("synflood: socket");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	static struct syn pkt[BATCH];
	static struct mmsghdr msg[BATCH];
	static struct iovec iov[BATCH];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long sent = 0;
	while (sent < n) {
		unsigned k = n - sent < BATCH ? (unsigned)(n - sent) : BATCH;
		for (unsigned i = 0; i < k; i++) {
			unsigned long seq = sent + i;
			struct syn *s = &pkt[i];
			memset(s, 0, sizeof(*s));
			s->ip.version = 4;
			s->ip.ihl = 5;
			s->ip.ttl = 64;
			s->ip.protocol = IPPROTO_TCP;
			s->ip.tot_len = htons(sizeof(*s));
			s->ip.id = htons((unsigned short)seq);
			s->ip.saddr = src.s_addr;
			s->ip.daddr = dst.s_addr;
			s->ip.check = csum(&s->ip, sizeof(s->ip), 0);
			s->tcp.source = htons(1024 + seq % 64512);
			s->tcp.dest = htons(dport);
			s->tcp.seq = htonl((unsigned)(seq * 2654435761u));
			s->tcp.doff = 5;
			s->tcp.syn = 1;
			s->tcp.window = htons(64240);
			/* The pseudo header, in the same 16-bit words as the packet. */
			unsigned long sum = (src.s_addr & 0xffff) + (src.s_addr >> 16) + (dst.s_addr & 0xffff) +
					    (dst.s_addr >> 16) + htons(IPPROTO_TCP) + htons(sizeof(s->tcp));
			s->tcp.check = csum(&s->tcp, sizeof(s->tcp), sum);
			iov[i].iov_base = s;
			iov[i].iov_len = sizeof(*s);
			msg[i].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov[i], .msg_iovlen = 1};
		}
		unsigned done = 0;
		while (done < k) {
			int r = sendmmsg(fd, msg + done, k - done, 0);
			if (r < 0) {
				perror("synflood: sendmmsg");
				return 1;
			}
			done += r;
		}
		sent += k;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sent %lu in %lld ns\n", sent,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}
