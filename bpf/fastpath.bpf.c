// SPDX-License-Identifier: GPL-2.0
/* The XDP fast path: relays ChannelData between TURN clients and their peers for bound channels
 * (RFC 8656 §12), drops peer traffic to a relay without any permission (RFC 8656 §9), and hands
 * everything else to the kernel stack untouched. parse -> lookup -> route -> rewrite -> forward.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>

#include "fastpath_cache.h"
#include "fastpath_clock.h"
#include "fastpath_fwd.h"
#include "fastpath_maps.h"
#include "fastpath_parse.h"
#include "fastpath_state.h"

char LICENSE[] SEC("license") = "GPL";

/* libxdp multiprog: priority 20 runs before programs at libxdp's default of 50 (lower runs
 * first); the chain continues after this program on XDP_PASS. */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(nts_fastpath);

/* Set by the loader in an instance attached in skb (generic) mode, where the program sees skbs
 * after GRO: a burst of a peer's datagrams to a relay socket with UDP_GRO on (or a GSO send from
 * a local peer) arrives as one datagram, which relayed here would become one ChannelData message
 * (tests/netns/xdp_gro.sh). The socket layer splits such an skb for ntsd, so peer datagrams on
 * channels go to userspace there; native XDP runs before GRO and relays them. */
const volatile __u8 nts_fp_generic = 0;

/* What a direction's step returns besides an action: no entry matched, or s->fwd says where the
 * datagram goes and nts_fastpath forwards it (one inlined copy of the IPv4 rewrite for both). */
#define NO_MATCH (-1)
#define FORWARD (-2)

/* Client -> peer (RFC 8656 §12.4): ChannelData to a listen address on a bound channel.
 * NO_MATCH when no channel matches (the packet may still be peer traffic). Inlined: the common
 * direction's hit path makes no call. */
static __always_inline int client_to_peer(struct fp_state *s)
{
	void *data = (void *)(long)s->ctx->data, *data_end = (void *)(long)s->ctx->data_end;
	const struct pkt *p = &s->pkt;
	struct fwd *f = &s->fwd;
	struct cache_key key = {&p->src, &p->dst};
	struct nts_fp_client_val *v;
	struct cd_hdr *cd;
	__u16 channel, len;

	/* Constant offsets per family keep the verifier's packet range checks simple. */
	if (p->v6)
		cd = data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct udphdr);
	else
		cd = data + sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
	if ((void *)(cd + 1) > data_end || p->udp_len < sizeof(struct udphdr) + sizeof(*cd))
		return NO_MATCH;
	if ((*(__u8 *)cd & CD_CHANNEL_MASK) != CD_CHANNEL_BITS)
		return NO_MATCH;
	channel = bpf_ntohs(cd->channel);
	len = bpf_ntohs(cd->len);
	/* struct nts_fp_client_key: client and server address, then ports and channel. */
	key.tail = u32_pair(pkt_ports(p), u16_pair(channel, 0));
	f->now = fp_now();
	v = client_find(&key, f->now);
	if (!v)
		return NO_MATCH;
	PROFILE_STOP(1);
	/* RFC 8656 §12.5: over UDP the data may be followed by padding; only the exact length is
	 * relayed here so the peer receives exactly what userspace would send. */
	if (len != p->udp_len - sizeof(struct udphdr) - sizeof(*cd))
		return pass(&s->st->pass_channel_length);
	if (v->expires_ns < f->now)
		return pass(&s->st->pass_expired);
	f->src = &v->relay_ip;
	f->dst = &v->peer_ip;
	f->ports = ports_word(v->relay_port, v->peer_port);
	f->cd = *(const __u32 *)cd;
	f->cd_len = len;
	f->to_client = 0;
	f->limit_slot = v->limit_slot;
	f->alloc_id = v->alloc_id;
	f->nh = &v->nh;
	PROFILE_STOP(2);
	return FORWARD;
}

/* Peer traffic without a channel (RFC 8656 §9): a permission sends it to userspace for a Data
 * indication; a known relay without permission drops it; anything else is not ours. */
static __noinline int peer_without_channel(struct fp_state *s)
{
	struct nts_fp_stats *st = s->st;
	const struct pkt *p = &s->pkt;
	__u64 now = s->fwd.now;
	struct nts_fp_perm_key pkey = {};
	struct nts_fp_relay_key rkey = {};
	struct nts_fp_perm_val *pv;
	struct nts_fp_relay_val *rv;

	pkey.relay_ip = p->dst;
	pkey.peer_ip = p->src;
	pkey.relay_port = p->dport;
	pv = bpf_map_lookup_elem(&nts_fp_perm, &pkey);
	if (pv)
		return pv->expires_ns < now ? pass(&st->pass_expired) : pass(&st->pass_permission);
	rkey.relay_ip = p->dst;
	rkey.relay_port = p->dport;
	rv = bpf_map_lookup_elem(&nts_fp_relay, &rkey);
	if (!rv)
		return pass(&st->pass_no_match);
	if (rv->expires_ns < now)
		return pass(&st->pass_expired);
	/* RFC 8656 §9: data from a peer without a permission is silently discarded. */
	COUNT(st, drop_no_permission);
	return XDP_DROP;
}

/* Peer -> client (RFC 8656 §12.6 / §10.3): UDP from a peer to a relay address. FORWARD, or
 * the action. */
static __noinline int peer_to_client(struct fp_state *s)
{
	const struct pkt *p = &s->pkt;
	struct fwd *f = &s->fwd;
	/* struct nts_fp_peer_key: relay and peer address, relay and peer port. */
	struct cache_key key = {&p->dst, &p->src, u16_pair(p->dport, p->sport)};
	struct nts_fp_peer_val *v;

	f->now = fp_now();
	v = peer_find(&key, f->now);
	if (!v)
		return peer_without_channel(s);
	if (nts_fp_generic)
		return pass(&s->st->pass_generic);
	if (v->expires_ns < f->now)
		return pass(&s->st->pass_expired);
	if (p->udp_len > IP_LEN_MAX - CD_HDR_LEN)
		return pass(&s->st->pass_too_big);
	f->src = &v->server_ip;
	f->dst = &v->client_ip;
	f->ports = ports_word(v->server_port, v->client_port);
	f->cd_len = p->udp_len - sizeof(struct udphdr);
	f->cd = cd_word(v->channel, f->cd_len);
	f->to_client = 1;
	f->limit_slot = v->limit_slot;
	f->alloc_id = v->alloc_id;
	f->nh = &v->nh;
	return FORWARD;
}

SEC("xdp")
int nts_fastpath(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	/* Not zeroed (128 bytes of stores per packet): parse writes every field of s.pkt, and a
	 * lookup every field of s.fwd, before any step reads them. */
	struct fp_state s;
	__u32 zero = 0;
	__be16 proto;
	int act;

	s.ctx = ctx;
	s.ingress = ctx->ingress_ifindex;
	s.st = bpf_map_lookup_elem(&nts_fp_stats, &zero);
	if (!s.st)
		return XDP_PASS;
	if ((void *)(eth + 1) > data_end)
		return pass(&s.st->pass_not_udp);
	/* struct ethhdr is packed: read the EtherType as the 16-bit field it is. */
	proto = *(const __be16 *)((const __u8 *)eth + 2 * ETH_ALEN);
	if (proto == bpf_htons(ETH_P_IP))
		act = parse_ipv4(&s);
	else if (proto == bpf_htons(ETH_P_IPV6))
		act = parse_ipv6(&s);
	else
		return pass(&s.st->pass_not_udp);
	if (act >= 0)
		return act;
	act = client_to_peer(&s);
	if (act == NO_MATCH)
		act = peer_to_client(&s);
	return act == FORWARD ? forward(&s) : act;
}
