/* Fixture of the fast-path BPF tests: a private network namespace (unshare, gone with the process)
 * with two veth pairs, routes and static neighbours so bpf_fib_lookup has real answers, the program
 * loaded from the skeleton, and helpers to run crafted frames and check what comes out.
 */
#ifndef NTS_TESTS_FP_FIXTURE_H
#define NTS_TESTS_FP_FIXTURE_H

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

/* bpftool embeds the BPF object as one string literal, longer than ISO C promises (4095). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "fastpath.skel.h"
#pragma GCC diagnostic pop
#include "fastpath/fastpath.h"
#include "fastpath/loader.h"
#include "fp_pkt.h"

#define A_MAC "02:aa:00:00:00:01"
#define B_MAC "02:bb:00:00:00:01"
#define CLIENT_MAC "\x02\xcc\x00\x00\x00\x02"
#define PEER_MAC "\x02\xcc\x00\x00\x00\x03"
#define PEER_B_MAC "\x02\xcc\x00\x00\x01\x02"
#define FAR 3600000000000ull /* an hour in ns */

struct fx {
	struct fastpath_bpf *skel;
	struct fastpath *fp;
	int prog_fd, if_a, if_b;
};

/* Addresses of one family: client at server (listen), relay, a peer via the arrival interface and
 * one via the other interface, and destinations without neighbour or route. */
struct net {
	bool v6;
	const char *client, *server, *peer, *peer_b, *no_neigh, *no_route;
};
static const struct net net4 = {false,	      "198.18.0.2", "198.18.0.1", "198.18.0.3",
				"198.18.1.2", "198.18.0.9", "198.19.9.9"};
static const struct net net6 = {
    true, "2001:2::2", "2001:2::1", "2001:2::3", "2001:2:0:1::2", "2001:2::9", "2001:2:0:9::9"};
#define CLIENT_PORT 40000
#define SERVER_PORT 3478
#define RELAY_PORT 50000
#define PEER_PORT 60000
#define CHANNEL 0x4001
#define ALLOC 7

static const uint8_t data[] = "RTP-ish payload: 0123456789abcdefghijklmnopqrstuvwxyz!";
#define DLEN (sizeof(data) - 1)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct nts_addr addr(const char *ip, uint16_t port)
{
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, ip, true), 0);
	a.port = port;
	return a;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "# command failed (%d): %s\n", rc, cmd);
	return rc;
}

static int group_setup(void **state)
{
	static struct fx fx;
	struct fastpath_fds fds;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (needs root)");
		return -1;
	}
	if (sh("set -e; ip link set lo up;"
	       "ip link add fpa0 address " A_MAC " type veth peer name fpa1;"
	       "ip link add fpb0 address " B_MAC " type veth peer name fpb1;"
	       "for d in fpa0 fpa1 fpb0 fpb1; do ip link set $d up; done;"
	       "ip addr add 198.18.0.1/24 dev fpa0; ip addr add 198.18.1.1/24 dev fpb0;"
	       "ip -6 addr add 2001:2::1/64 dev fpa0 nodad;"
	       "ip -6 addr add 2001:2:0:1::1/64 dev fpb0 nodad;"
	       "ip neigh add 198.18.0.2 lladdr 02:cc:00:00:00:02 dev fpa0 nud permanent;"
	       "ip neigh add 198.18.0.3 lladdr 02:cc:00:00:00:03 dev fpa0 nud permanent;"
	       "ip neigh add 198.18.1.2 lladdr 02:cc:00:00:01:02 dev fpb0 nud permanent;"
	       "ip neigh add 2001:2::2 lladdr 02:cc:00:00:00:02 dev fpa0 nud permanent;"
	       "ip neigh add 2001:2::3 lladdr 02:cc:00:00:00:03 dev fpa0 nud permanent;"
	       "ip neigh add 2001:2:0:1::2 lladdr 02:cc:00:00:01:02 dev fpb0 nud permanent;"
	       "sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1"))
		return -1;
	fx.if_a = if_nametoindex("fpa0");
	fx.if_b = if_nametoindex("fpb0");
	fx.skel = fastpath_skel_open(1024, 256, NULL);
	if (!fx.skel || fastpath_bpf__load(fx.skel)) {
		fprintf(stderr, "# cannot load the fast path\n");
		return -1;
	}
	fx.prog_fd = bpf_program__fd(fx.skel->progs.nts_fastpath);
	fds = (struct fastpath_fds){
	    bpf_map__fd(fx.skel->maps.nts_fp_client),
	    bpf_map__fd(fx.skel->maps.nts_fp_peer),
	    bpf_map__fd(fx.skel->maps.nts_fp_perm),
	    bpf_map__fd(fx.skel->maps.nts_fp_relay),
	    bpf_map__fd(fx.skel->maps.nts_fp_alloc),
	    bpf_map__fd(fx.skel->maps.nts_fp_stats),
	    bpf_map__fd(fx.skel->maps.nts_fp_tx),
	    bpf_map__fd(fx.skel->maps.nts_fp_alloc_limit),
	    bpf_map__fd(fx.skel->maps.nts_fp_account_limit),
	    bpf_map__fd(fx.skel->maps.nts_fp_epoch),
	    bpf_map__fd(fx.skel->maps.nts_fp_alloc_direct),
	};
	if (fastpath_from_fds(&fds, &fx.fp))
		return -1;
	*state = &fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *fx = *state;

	if (fx) {
		fastpath_close(fx->fp);
		fastpath_bpf__destroy(fx->skel);
	}
	return 0;
}

static void map_clear(int fd)
{
	uint8_t key[64];

	for (int n = 0; n < 4096 && bpf_map_get_next_key(fd, NULL, key) == 0; n++)
		bpf_map_delete_elem(fd, key);
}

/* Frees every slot of an ARRAY of limit slots (all-zero values: owner 0). */
static void slots_clear_all(int fd)
{
	uint8_t zero[256] = {0};
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size > sizeof(zero))
		return;
	for (uint32_t k = 0; k < info.max_entries; k++)
		bpf_map_update_elem(fd, &k, zero, BPF_ANY);
}

/* Zeroes every element of a PERCPU_ARRAY on every CPU. */
static void percpu_clear_all(int fd)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	int ncpus = libbpf_num_possible_cpus();
	void *zero;

	if (fd < 0 || ncpus <= 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	zero = calloc((size_t)ncpus, (info.value_size + 7) & ~7u);
	for (uint32_t k = 0; zero && k < info.max_entries; k++)
		bpf_map_update_elem(fd, &k, zero, BPF_ANY);
	free(zero);
}

/* Each test starts with empty maps, zero counters, and fpb0 as the only redirect port. */
static int setup(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct fastpath *fresh;
	uint8_t zero[4096] = {0};
	uint32_t k = 0, b = fx->if_b;

	map_clear(f->client);
	map_clear(f->peer);
	map_clear(f->perm);
	map_clear(f->relay);
	map_clear(f->alloc);
	slots_clear_all(f->limit);
	slots_clear_all(f->account);
	percpu_clear_all(f->direct);
	percpu_clear_all(bpf_map__fd(fx->skel->maps.nts_fp_limit_debt));
	percpu_clear_all(bpf_map__fd(fx->skel->maps.nts_fp_account_debt));
	map_clear(f->tx);
	bpf_map_update_elem(f->stats, &k, zero, BPF_ANY);
	bpf_map_update_elem(f->tx, &b, &b, BPF_ANY);
	if (fastpath_from_fds(f, &fresh))
		return -1;
	fastpath_cache_flush(fresh); /* the maps were emptied behind its back */
	fastpath_close(fx->fp);
	fx->fp = fresh;
	return 0;
}

static uint32_t run(struct fx *fx, const struct fp_frame *in, struct fp_frame *out)
{
	struct xdp_md ctx = {.data_end = in->len, .ingress_ifindex = fx->if_a};
	struct bpf_test_run_opts o = {.sz = sizeof(o),
				      .data_in = in->buf,
				      .data_size_in = in->len,
				      .data_out = out->buf,
				      .data_size_out = sizeof(out->buf),
				      .ctx_in = &ctx,
				      .ctx_size_in = sizeof(ctx),
				      .repeat = 1};

	assert_int_equal(bpf_prog_test_run_opts(fx->prog_fd, &o), 0);
	out->len = o.data_size_out;
	return o.retval;
}

/* The id the maps know allocation id by: this handle's generation and id. */
static inline uint64_t kid_of(struct fx *fx, uint64_t id)
{
	return (uint64_t)fastpath_generation(fx->fp) << NTS_FP_GEN_SHIFT | id;
}

static inline struct nts_fp_stats stats(struct fx *fx)
{
	struct nts_fp_stats s;

	assert_int_equal(fastpath_stats_read(fx->fp, &s), 0);
	return s;
}

/* The map keys of n's client (from cport to the server, on CHANNEL) and of peer (from pport to
 * the relay's rport). */
static inline struct nts_fp_client_key fp_client_key(const struct net *n, uint16_t cport)
{
	struct nts_addr c = addr(n->client, cport), s = addr(n->server, SERVER_PORT);
	struct nts_fp_client_key k = {0};

	fastpath_ip_from_addr(&k.client_ip, &c);
	fastpath_ip_from_addr(&k.server_ip, &s);
	k.client_port = cport;
	k.server_port = SERVER_PORT;
	k.channel = CHANNEL;
	return k;
}

static inline struct nts_fp_peer_key fp_peer_key(const struct net *n, const char *peer,
						 uint16_t rport, uint16_t pport)
{
	struct nts_addr r = addr(n->server, rport), p = addr(peer, pport);
	struct nts_fp_peer_key k = {0};

	fastpath_ip_from_addr(&k.relay_ip, &r);
	fastpath_ip_from_addr(&k.peer_ip, &p);
	k.relay_port = rport;
	k.peer_port = pport;
	return k;
}

/* Binds CHANNEL for the client of n to peer (with its permission) until expires. */
static void bind_channel(struct fx *fx, const struct net *n, const char *peer, uint64_t expires)
{
	struct nts_addr c = addr(n->client, CLIENT_PORT), s = addr(n->server, SERVER_PORT),
			r = addr(n->server, RELAY_PORT), p = addr(peer, PEER_PORT);

	assert_int_equal(fastpath_channel_set(fx->fp, ALLOC, &c, &s, &r, &p, CHANNEL, expires), 0);
}

/* A ChannelData frame from the client to the server on channel, pad bytes after the data. */
static inline void client_frame(struct fp_frame *f, const struct net *n, uint16_t channel,
				size_t pad, struct fp_spec *s)
{
	uint8_t cd[256];
	size_t len = fp_channeldata(cd, channel, data, DLEN, pad);

	s->v6 = n->v6;
	s->src = n->client;
	s->dst = n->server;
	s->sport = CLIENT_PORT;
	s->dport = SERVER_PORT;
	s->payload = cd;
	s->payload_len = len;
	fp_build(f, s);
}

/* A UDP frame from peer to the relay address. */
static inline void peer_frame(struct fp_frame *f, const struct net *n, const char *peer,
			      struct fp_spec *s)
{
	s->v6 = n->v6;
	s->src = peer;
	s->dst = n->server;
	s->sport = PEER_PORT;
	s->dport = RELAY_PORT;
	if (!s->payload) {
		s->payload = data;
		s->payload_len = DLEN;
	}
	fp_build(f, s);
}

/* Checks a forwarded frame completely: MACs, IP header (TTL - 1, TOS/traffic class, DF, flow
 * label kept, header checksum recomputed), UDP ports/length/checksum (recomputed), payload. */
static inline void check_out(const struct fp_frame *out, bool v6, const char *src, const char *dst,
			     uint16_t sport, uint16_t dport, const uint8_t *payload, size_t plen,
			     const char *dmac, uint8_t tos, bool zero_csum)
{
	const struct ethhdr *eth = (const void *)out->buf;
	uint8_t s[16], d[16];
	const uint8_t *udp;
	size_t l4;

	inet_pton(v6 ? AF_INET6 : AF_INET, src, s);
	inet_pton(v6 ? AF_INET6 : AF_INET, dst, d);
	assert_memory_equal(eth->h_dest, dmac, 6);
	/* The egress interface's own address: fpb0 for the peer behind it, fpa0 otherwise. */
	if (memcmp(dmac, PEER_B_MAC, 6) == 0)
		assert_memory_equal(eth->h_source, "\x02\xbb\x00\x00\x00\x01", 6);
	else
		assert_memory_equal(eth->h_source, "\x02\xaa\x00\x00\x00\x01", 6);
	if (v6) {
		const struct ipv6hdr *ip6 = (const void *)(out->buf + 14);

		assert_int_equal(ntohs(eth->h_proto), ETH_P_IPV6);
		assert_int_equal(ip6->hop_limit, 63);
		assert_int_equal((ip6->priority << 4) | (ip6->flow_lbl[0] >> 4), tos);
		assert_int_equal(ip6->flow_lbl[0] & 0xf, 1);
		assert_int_equal(ip6->flow_lbl[2], 0x45);
		assert_memory_equal(&ip6->saddr, s, 16);
		assert_memory_equal(&ip6->daddr, d, 16);
		assert_int_equal(ntohs(ip6->payload_len), 8 + plen);
		l4 = 14 + 40;
	} else {
		const struct iphdr *iph = (const void *)(out->buf + 14);

		assert_int_equal(ntohs(eth->h_proto), ETH_P_IP);
		assert_int_equal(iph->ttl, 63);
		assert_int_equal(iph->tos, tos);
		assert_int_equal(ntohs(iph->frag_off), 0x4000);
		assert_int_equal(ntohs(iph->id), 0x1234);
		assert_memory_equal(&iph->saddr, s, 4);
		assert_memory_equal(&iph->daddr, d, 4);
		assert_int_equal(ntohs(iph->tot_len), 20 + 8 + plen);
		assert_int_equal(fp_fold(fp_sum(iph, 20, 0)), 0xffff); /* header checksum valid */
		l4 = 14 + 20;
	}
	assert_int_equal(out->len, l4 + 8 + plen);
	udp = out->buf + l4;
	assert_int_equal(udp[0] << 8 | udp[1], sport);
	assert_int_equal(udp[2] << 8 | udp[3], dport);
	assert_int_equal(udp[4] << 8 | udp[5], 8 + plen);
	if (zero_csum)
		assert_int_equal(udp[6] << 8 | udp[7], 0);
	else
		assert_int_equal(fp_udp_sum(v6, s, d, udp, 8 + plen), 0xffff);
	assert_memory_equal(udp + 8, payload, plen);
}

/* Asserts the program passed the frame on untouched. */
static inline void assert_passed(struct fx *fx, const struct fp_frame *in)
{
	struct fp_frame out;

	assert_int_equal(run(fx, in, &out), XDP_PASS);
	assert_int_equal(out.len, in->len);
	assert_memory_equal(out.buf, in->buf, in->len);
}

#endif
