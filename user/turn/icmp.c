/* ICMP errors from peers (RFC 8656 §11): relay sockets ask the kernel to queue the ICMP errors
 * their datagrams provoke (IP_RECVERR / IPV6_RECVERR); the queue is read with MSG_ERRQUEUE when
 * epoll reports EPOLLERR, and each error about a peer the client has a permission for reaches it
 * as a Data indication with XOR-PEER-ADDRESS and ICMP (§11.2, §18.13), at most TURN_ICMP_PER_SEC
 * a second per allocation. Reading the queue empty also clears the socket error, so a level-
 * triggered EPOLLERR does not fire again for the same errors.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/errqueue.h> /* after time.h: it uses struct timespec */

#include "turn/turn_internal.h"
#include "util/log.h"

/* ICMPv4 and ICMPv6 types and codes used below (RFC 792, RFC 4443). */
enum {
	ICMP4_DEST_UNREACH = 3,
	ICMP4_FRAG_NEEDED = 4,
	ICMP4_TIME_EXCEEDED = 11,
	ICMP6_DEST_UNREACH = 1,
	ICMP6_PACKET_TOO_BIG = 2,
	ICMP6_TIME_EXCEEDED = 3,
};

int turn_icmp_enable(struct turn_relay *r)
{
	int one = 1;

	if (r->local.family == AF_INET6)
		return setsockopt(r->fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) ? -errno
											: 0;
	return setsockopt(r->fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) ? -errno : 0;
}

/* RFC 8656 §11.1: ICMPv4 types 3 and 11, ICMPv6 types 1, 2 and 3 are relayed, no others. Error
 * Data (§18.13) is the next-hop MTU for fragmentation needed and packet too big, else zero. */
static bool turn_icmp_relayable(const struct sock_extended_err *ee, uint32_t *error_data)
{
	*error_data = 0;
	if (ee->ee_origin == SO_EE_ORIGIN_ICMP) {
		if (ee->ee_type == ICMP4_DEST_UNREACH && ee->ee_code == ICMP4_FRAG_NEEDED)
			*error_data = ee->ee_info;
		return ee->ee_type == ICMP4_DEST_UNREACH || ee->ee_type == ICMP4_TIME_EXCEEDED;
	}
	if (ee->ee_origin == SO_EE_ORIGIN_ICMP6) {
		if (ee->ee_type == ICMP6_PACKET_TOO_BIG)
			*error_data = ee->ee_info;
		return ee->ee_type >= ICMP6_DEST_UNREACH && ee->ee_type <= ICMP6_TIME_EXCEEDED;
	}
	return false; /* a local error (EMSGSIZE...): nothing came from the network */
}

/* The per-allocation budget: TURN_ICMP_PER_SEC indications in each second. */
static bool turn_icmp_budget(struct turn_server *t, struct turn_alloc *a)
{
	uint16_t now_s = (uint16_t)(turn_now_ms(t) / 1000);

	if (a->icmp_second != now_s) {
		a->icmp_second = now_s;
		a->icmp_in_second = 0;
	}
	if (a->icmp_in_second >= TURN_ICMP_PER_SEC)
		return false;
	a->icmp_in_second++;
	return true;
}

/* §11.2: a Data indication with XOR-PEER-ADDRESS (the destination of the datagram that provoked
 * the error) and ICMP; no DATA. */
static void turn_icmp_indicate(struct turn_server *t, struct turn_alloc *a,
			       const struct nts_addr *peer, const struct sock_extended_err *ee,
			       uint32_t error_data)
{
	uint8_t buf[TURN_MAX_RESPONSE], tid[STUN_TID_LEN];
	uint64_t r1 = turn_mix64(t->seed ^ ++t->next_tid), r2 = turn_mix64(r1);
	struct stun_builder b;

	memcpy(tid, &r1, 8);
	memcpy(tid + 8, &r2, 4);
	stun_build_init(&b, buf, sizeof(buf), TURN_DATA, STUN_INDICATION, tid);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_put_icmp(&b, ee->ee_type, ee->ee_code, error_data);
	if (turn_send_stun(t, &a->origin, &b, NULL) >= 0)
		t->stats->icmp_relayed++;
}

/* One error-queue entry: its peer (msg_name holds the original destination) and the extended
 * error from the control message. */
static void turn_icmp_one(struct turn_server *t, struct turn_relay *r, struct msghdr *mh)
{
	struct sock_extended_err ee;
	struct nts_addr peer;
	uint32_t error_data;
	bool found = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			found = true;
		}
	}
	if (!found || nts_addr_from_sockaddr(&peer, mh->msg_name) < 0)
		return;
	/* §11.1: the permission is checked against the peer the datagram went to, never against
	 * whoever sent the ICMP; errors of other kinds, and those beyond the budget, are dropped.
	 */
	if (!turn_icmp_relayable(&ee, &error_data) || !turn_perm_find(t, r->alloc, &peer) ||
	    !turn_icmp_budget(t, r->alloc)) {
		t->stats->icmp_dropped++;
		return;
	}
	turn_icmp_indicate(t, r->alloc, &peer, &ee, error_data);
}

void turn_icmp_drain(struct turn_server *t, struct turn_relay *r)
{
	/* Called by the relay's read handler with the allocation marked busy: a send that closes
	 * the client's stream only marks it dead (relay.c). */
	for (int round = 0; round < TURN_ICMP_ROUNDS && !t->busy_dead; round++) {
		struct sockaddr_storage ss;
		uint8_t data[64]; /* the offending payload: not needed, and cut short */
		uint8_t
		    ctl[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))]
		    __attribute__((aligned(8)));
		struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
		struct msghdr mh = {.msg_name = &ss,
				    .msg_namelen = sizeof(ss),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl,
				    .msg_controllen = sizeof(ctl)};

		if (recvmsg(r->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("relay error queue: %s", strerror(errno));
			return;
		}
		turn_icmp_one(t, r, &mh);
	}
}
