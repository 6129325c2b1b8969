/* Relay ports: UDP sockets bound at random within --relay-ports (RFC 8656 §7.2 asks for
 * unpredictable ports), even ports with the next one held under a RESERVATION-TOKEN (EVEN-PORT with
 * R), the reservations themselves (30 s on the timer wheel), and which numbers our relays of
 * either transport already hold.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn/turn_internal.h"
#include "util/log.h"

static uint64_t turn_random64(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = turn_mix64(nts_monotonic_ns());
	return v;
}

static int turn_set_dont_fragment(int fd, uint8_t family)
{
	/* RFC 8656 §7.2 DONT-FRAGMENT: send to peers with DF set (IPv4) / no fragmentation (IPv6).
	 */
	int v4 = IP_PMTUDISC_DO, v6 = IPV6_PMTUDISC_DO;

	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4));
	return setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6));
}

/* Binds a UDP socket to ip:port; returns the fd or -errno. */
static int turn_sock_bind(const struct nts_addr *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct nts_addr a = *ip;
	socklen_t sl;
	int one = 1, fd, err;

	fd = socket(ip->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ip->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	a.port = port;
	sl = nts_addr_to_sockaddr(&a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static uint64_t turn_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

bool turn_port_taken(struct turn_server *t, const struct nts_addr *ip, uint32_t port)
{
	struct nts_addr a = *ip;

	if (port > UINT16_MAX)
		return true;
	a.port = (uint16_t)port;
	if (turn_alloc_find_by_relay(t, &a))
		return true;
	/* Reserved ports hold a UDP socket but no relay yet; few exist at any time. */
	for (size_t i = 0; t->resv.n && i <= t->resv.mask; i++)
		for (struct turn_hnode *n = t->resv.b[i]; n; n = n->next)
			if (nts_addr_equal(&turn_container_of(n, struct turn_resv, node)->local, &a,
					   true))
				return true;
	return false;
}

int turn_port_open(struct turn_server *t, const struct nts_addr *ip, bool even, bool reserve,
		   bool dont_fragment, struct turn_relay *out, uint64_t *token)
{
	uint32_t lo = t->cfg->relay_port_min, hi = t->cfg->relay_port_max;
	uint64_t n, start, stride, rnd = turn_random64();
	unsigned tries;

	if (!lo || hi < lo)
		return -EINVAL;
	if (even) {
		lo += lo & 1;
		if (hi < lo)
			return -EADDRINUSE;
		n = (hi - lo) / 2 + 1;
	} else {
		n = hi - lo + 1;
	}
	/* Visit candidates as start + i*stride mod n with stride coprime to n: a random order that
	 * covers the whole range when it is smaller than TURN_PORT_TRIES. */
	start = rnd % n;
	stride = n > 1 ? 1 + (rnd >> 32) % (n - 1) : 1;
	while (turn_gcd(stride, n) != 1)
		stride++;
	tries = n < TURN_PORT_TRIES ? (unsigned)n : TURN_PORT_TRIES;
	for (unsigned i = 0; i < tries; i++) {
		uint64_t k = (start + i * stride) % n;
		uint16_t port = (uint16_t)(even ? lo + 2 * k : lo + k);
		int fd, fd2 = -1;

		/* A TCP relay of ours (RFC 6062) on the number: the UDP bind would succeed. */
		if (turn_port_taken(t, ip, port) || (reserve && turn_port_taken(t, ip, port + 1u)))
			continue;
		fd = turn_sock_bind(ip, port);
		if (fd == -EADDRINUSE || fd == -EACCES)
			continue;
		if (fd < 0)
			return fd;
		if (reserve) {
			fd2 = port < hi ? turn_sock_bind(ip, port + 1) : -EADDRINUSE;
			if (fd2 < 0) {
				close(fd);
				if (fd2 == -EADDRINUSE || fd2 == -EACCES)
					continue;
				return fd2;
			}
		}
		if (dont_fragment && turn_set_dont_fragment(fd, ip->family) < 0)
			log_debug("turn: DONT-FRAGMENT not applied: %s", strerror(errno));
		out->fd = fd;
		out->local = *ip;
		out->local.port = port;
		out->advertised = out->local;
		if (reserve && t->shared) {
			/* Workers: the token may come back from another worker's client. */
			struct nts_addr rl = *ip;
			uint64_t tok = turn_random64();

			rl.port = port + 1;
			if (turn_shared_resv_put(t->shared, tok, fd2, &rl,
						 nts_monotonic_ms() +
						     TURN_RESERVATION_LIFETIME * 1000ULL) < 0) {
				close(fd);
				close(fd2);
				return -ENOMEM;
			}
			*token = tok;
		} else if (reserve) {
			struct turn_resv *r = calloc(1, sizeof(*r));

			if (!r) {
				close(fd);
				close(fd2);
				return -ENOMEM;
			}
			r->token = turn_random64();
			r->fd = fd2;
			r->local = *ip;
			r->local.port = port + 1;
			r->timer.kind = TURN_T_RESV;
			turn_htab_insert(&t->resv, &r->node, turn_mix64(r->token ^ t->seed));
			turn_timer_arm(t->wheel, &r->timer,
				       turn_now_ms(t) + TURN_RESERVATION_LIFETIME * 1000ULL);
			*token = r->token;
		}
		return 0;
	}
	return -EADDRINUSE;
}

static struct turn_resv *turn_resv_find(struct turn_server *t, uint64_t token)
{
	uint64_t h = turn_mix64(token ^ t->seed);

	for (struct turn_hnode *n = turn_htab_chain(&t->resv, h); n; n = n->next) {
		struct turn_resv *r = turn_container_of(n, struct turn_resv, node);

		if (n->hash == h && r->token == token)
			return r;
	}
	return NULL;
}

static void turn_resv_free(struct turn_server *t, struct turn_resv *r, bool close_fd)
{
	turn_timer_cancel(&r->timer);
	turn_htab_remove(&t->resv, &r->node);
	if (close_fd)
		close(r->fd);
	free(r);
}

int turn_port_take_reservation(struct turn_server *t, uint64_t token, bool dont_fragment,
			       struct turn_relay *out)
{
	struct turn_resv *r = turn_resv_find(t, token);

	if (!r && t->shared) {
		if (turn_shared_resv_take(t->shared, token, &out->fd, &out->local) < 0)
			return -ENOENT;
		out->advertised = out->local;
		if (dont_fragment && turn_set_dont_fragment(out->fd, out->local.family) < 0)
			log_debug("turn: DONT-FRAGMENT not applied: %s", strerror(errno));
		return 0;
	}
	if (!r)
		return -ENOENT;
	out->fd = r->fd;
	out->local = r->local;
	out->advertised = r->local;
	if (dont_fragment && turn_set_dont_fragment(r->fd, r->local.family) < 0)
		log_debug("turn: DONT-FRAGMENT not applied: %s", strerror(errno));
	turn_resv_free(t, r, false);
	return 0;
}

void turn_resv_expired(struct turn_server *t, struct turn_resv *r)
{
	turn_resv_free(t, r, true);
}

void turn_resv_free_all(struct turn_server *t)
{
	for (size_t i = 0; i <= t->resv.mask; i++)
		while (t->resv.b[i])
			turn_resv_free(t, turn_container_of(t->resv.b[i], struct turn_resv, node),
				       true);
}
