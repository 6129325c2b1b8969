/* Handing TURN's state to another ntsd (docs/architecture.md, "Upgrading without dropping
 * calls"): every UDP-client allocation with its relay sockets, permissions, channels (cooling ones
 * too), counters and kept Allocate answer, the reservations of EVEN-PORT, and the id counters,
 * as records of the upgrade stream (user/util/tlv.h). Lifetimes travel as time left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "turn/turn_internal.h"
#include "util/log.h"

/* Fields of NTS_REC_TURN_SERVER. */
enum { TS_NEXT_ID = 1, TS_NEXT_TID = 2 };
/* Fields of NTS_REC_TURN_ALLOC. */
enum {
	TA_ID = 1,
	TA_TRANSPORT = 2,
	TA_CLIENT = 3,
	TA_SERVER = 4,
	TA_LISTENER = 5, /* fd index of the UDP listen socket the client reaches */
	TA_RELAY = 6,	 /* nested: TR_* */
	TA_USER = 7,
	TA_ACCOUNT = 8,
	TA_EXPIRES = 9,	  /* ms left (signed) */
	TA_CRED_END = 10, /* ms left until the credential expires (--strict-expiry) */
	TA_LAST_TID = 11,
	TA_LAST_RESP = 12,
	TA_COUNTERS = 13,     /* c2p packets, c2p bytes, p2c packets, p2c bytes */
	TA_REPORTED = 14,     /* client-to-peer bytes already reported as usage */
	TA_PERM = 15,	      /* nested: TP_* */
	TA_CHAN = 16,	      /* nested: TC_* */
	TA_REPORTED_P2C = 17, /* peer-to-client bytes already reported as usage */
};
enum { TR_FD = 1, TR_LOCAL = 2, TR_ADVERTISED = 3 };
enum { TP_PEER = 1, TP_EXPIRES = 2 };
enum { TC_NUM = 1, TC_PEER = 2, TC_EXPIRES = 3, TC_COOLING = 4 };
/* Fields of NTS_REC_TURN_RESV. */
enum { TV_TOKEN = 1, TV_FD = 2, TV_LOCAL = 3, TV_EXPIRES = 4 };

static uint64_t state_left(uint64_t at_ms, uint64_t now_ms)
{
	return at_ms - now_ms; /* two's complement: negative when past */
}

static uint64_t state_at(uint64_t left, uint64_t now_ms)
{
	int64_t l = (int64_t)left;

	return l < 0 && (uint64_t)-l > now_ms ? 0 : now_ms + (uint64_t)l;
}

static int state_put_alloc(struct turn_server *t, struct nts_tlv_buf *b, struct turn_alloc *a,
			   const struct turn_state_fds *fds, uint64_t now)
{
	size_t off = nts_tlv_begin(b, NTS_REC_TURN_ALLOC, true), sub;
	uint8_t ctr[32];
	int idx;

	nts_tlv_put_u64(b, TA_ID, true, a->id);
	nts_tlv_put_u8(b, TA_TRANSPORT, true, (uint8_t)a->origin.transport);
	nts_tlv_put_addr(b, TA_CLIENT, true, &a->origin.client);
	nts_tlv_put_addr(b, TA_SERVER, true, &a->origin.server);
	idx = fds->put(fds->arg, a->origin.fd, true);
	if (idx < 0)
		return idx;
	nts_tlv_put_u32(b, TA_LISTENER, true, (uint32_t)idx);
	for (unsigned i = 0; i < a->nrelay; i++) {
		idx = fds->put(fds->arg, a->relay[i].fd, false);
		if (idx < 0)
			return idx;
		sub = nts_tlv_begin(b, TA_RELAY, true);
		nts_tlv_put_u32(b, TR_FD, true, (uint32_t)idx);
		nts_tlv_put_addr(b, TR_LOCAL, true, &a->relay[i].local);
		nts_tlv_put_addr(b, TR_ADVERTISED, true, &a->relay[i].advertised);
		nts_tlv_end(b, sub);
	}
	nts_tlv_put_str(b, TA_USER, true, a->user->name);
	nts_tlv_put_str(b, TA_ACCOUNT, true, turn_alloc_account(a));
	nts_tlv_put_u64(b, TA_EXPIRES, true, state_left(a->expires_ms, now));
	if (a->cred_end_ms)
		nts_tlv_put_u64(b, TA_CRED_END, true, state_left(a->cred_end_ms, now));
	nts_tlv_put(b, TA_LAST_TID, false, a->last_tid, sizeof(a->last_tid));
	if (a->last_resp)
		nts_tlv_put(b, TA_LAST_RESP, false, a->last_resp, a->last_resp_len);
	{
		const uint64_t v[4] = {a->c2p_packets, a->c2p_bytes, a->p2c_packets, a->p2c_bytes};

		for (int i = 0; i < 4; i++)
			for (int k = 0; k < 8; k++)
				ctr[i * 8 + k] = (uint8_t)(v[i] >> (8 * k));
	}
	nts_tlv_put(b, TA_COUNTERS, false, ctr, sizeof(ctr));
	nts_tlv_put_u64(b, TA_REPORTED, true, a->reported_c2p);
	nts_tlv_put_u64(b, TA_REPORTED_P2C, true, a->reported_p2c);
	for (struct turn_list *l = a->perms.next; l != &a->perms; l = l->next) {
		struct turn_perm *p = turn_container_of(l, struct turn_perm, link);

		sub = nts_tlv_begin(b, TA_PERM, true);
		nts_tlv_put_addr(b, TP_PEER, true, &p->peer);
		nts_tlv_put_u64(b, TP_EXPIRES, true, state_left(p->expires_ms, now));
		nts_tlv_end(b, sub);
	}
	for (struct turn_list *l = a->chans.next; l != &a->chans; l = l->next) {
		struct turn_chan *c = turn_container_of(l, struct turn_chan, link);

		sub = nts_tlv_begin(b, TA_CHAN, true);
		nts_tlv_put_u16(b, TC_NUM, true, c->num);
		nts_tlv_put_addr(b, TC_PEER, true, &c->peer);
		nts_tlv_put_u64(b, TC_EXPIRES, true, state_left(c->expires_ms, now));
		nts_tlv_put_u8(b, TC_COOLING, true, c->cooling);
		nts_tlv_end(b, sub);
	}
	nts_tlv_end(b, off);
	return b->err;
}

/* One EVEN-PORT reservation record (RFC 8656 §7.2): its token, socket, address and time left. */
static int state_put_resv(struct nts_tlv_buf *b, const struct turn_state_fds *fds, uint64_t token,
			  int fd, const struct nts_addr *local, uint64_t left)
{
	int idx = fds->put(fds->arg, fd, false);
	size_t off;

	if (idx < 0)
		return idx;
	off = nts_tlv_begin(b, NTS_REC_TURN_RESV, true);
	nts_tlv_put_u64(b, TV_TOKEN, true, token);
	nts_tlv_put_u32(b, TV_FD, true, (uint32_t)idx);
	nts_tlv_put_addr(b, TV_LOCAL, true, local);
	nts_tlv_put_u64(b, TV_EXPIRES, true, left);
	nts_tlv_end(b, off);
	return b->err;
}

struct state_shared_resv {
	struct nts_tlv_buf *b;
	const struct turn_state_fds *fds;
	uint64_t now;
};

static int state_put_shared_resv(void *arg, uint64_t token, int fd, const struct nts_addr *local,
				 uint64_t expires_ms)
{
	struct state_shared_resv *x = arg;

	return state_put_resv(x->b, x->fds, token, fd, local, state_left(expires_ms, x->now));
}

int turn_state_export(struct turn_server *t, struct nts_tlv_buf *b,
		      const struct turn_state_fds *fds)
{
	uint64_t now = turn_now_ms(t);
	size_t off;
	int rc;

	turn_relay_flush(t); /* nothing queued stays behind in this process */
	off = nts_tlv_begin(b, NTS_REC_TURN_SERVER, true);
	nts_tlv_put_u64(b, TS_NEXT_ID, true, t->next_id);
	nts_tlv_put_u64(b, TS_NEXT_TID, false, t->next_tid);
	nts_tlv_end(b, off);
	for (struct turn_list *l = t->allocs.next; l != &t->allocs; l = l->next) {
		struct turn_alloc *a = turn_container_of(l, struct turn_alloc, link);

		/* Stream clients and RFC 6062 relays stay with their connection (README). */
		if (a->origin.transport != NTS_UDP || a->tcp || !a->expires_ms)
			continue;
		rc = state_put_alloc(t, b, a, fds, now);
		if (rc)
			return rc;
	}
	for (size_t i = 0; t->resv.n && i <= t->resv.mask; i++)
		for (struct turn_hnode *n = t->resv.b[i]; n; n = n->next) {
			struct turn_resv *r = turn_container_of(n, struct turn_resv, node);

			rc = state_put_resv(b, fds, r->token, r->fd, &r->local,
					    state_left(r->timer.due_s * 1000, now));
			if (rc)
				return rc;
		}
	/* Relay workers keep reservations in what they share: worker 0 hands them over, and they
	 * go back there (state_resv()), for any worker's client to redeem. */
	if (t->shared && t->worker_index == 0) {
		struct state_shared_resv x = {b, fds, nts_monotonic_ms()};

		rc = turn_shared_resv_foreach(t->shared, state_put_shared_resv, &x);
		if (rc)
			return rc;
	}
	return b->err;
}

/* One allocation as read, before anything is created. */
struct state_alloc {
	uint64_t id, expires, cred_end, reported, reported_p2c, ctr[4];
	bool has_id, has_expires, has_cred_end, has_ctr, has_tid;
	uint8_t transport;
	struct nts_addr client, server;
	uint32_t listener;
	bool has_listener, has_client, has_server, has_user;
	struct {
		uint32_t fd;
		struct nts_addr local, advertised;
	} relay[2];
	unsigned nrelay;
	char user[AUTH_MAX_USERNAME + 1], account[128];
	uint8_t tid[STUN_TID_LEN];
	const uint8_t *resp;
	uint32_t resp_len;
	struct {
		struct nts_addr peer;
		uint64_t expires;
	} perm[TURN_MAX_PERMS];
	unsigned nperm;
	struct {
		struct nts_addr peer;
		uint64_t expires;
		uint16_t num;
		uint8_t cooling;
	} chan[TURN_MAX_CHANNELS];
	unsigned nchan;
};

static int state_get_relay(struct state_alloc *s, const struct nts_tlv *rec)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv f;
	unsigned seen = 0;
	int rc;

	if (s->nrelay >= 2)
		return -EBADMSG;
	while ((rc = nts_tlv_next(&rd, &f)) > 0) {
		switch (f.type) {
		case TR_FD:
			rc = nts_tlv_u32(&f, &s->relay[s->nrelay].fd);
			break;
		case TR_LOCAL:
			rc = nts_tlv_addr(&f, &s->relay[s->nrelay].local);
			break;
		case TR_ADVERTISED:
			rc = nts_tlv_addr(&f, &s->relay[s->nrelay].advertised);
			break;
		default:
			rc = nts_tlv_unknown(&f);
			continue;
		}
		if (rc)
			return rc;
		seen |= 1u << f.type;
	}
	if (rc < 0 || seen != (1u << TR_FD | 1u << TR_LOCAL | 1u << TR_ADVERTISED))
		return -EBADMSG;
	s->nrelay++;
	return 0;
}

static int state_get_perm(struct state_alloc *s, const struct nts_tlv *rec)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv f;
	unsigned seen = 0;
	int rc;

	if (s->nperm >= TURN_MAX_PERMS)
		return -EBADMSG;
	while ((rc = nts_tlv_next(&rd, &f)) > 0) {
		switch (f.type) {
		case TP_PEER:
			rc = nts_tlv_addr(&f, &s->perm[s->nperm].peer);
			break;
		case TP_EXPIRES:
			rc = nts_tlv_u64(&f, &s->perm[s->nperm].expires);
			break;
		default:
			rc = nts_tlv_unknown(&f);
			continue;
		}
		if (rc)
			return rc;
		seen |= 1u << f.type;
	}
	if (rc < 0 || seen != (1u << TP_PEER | 1u << TP_EXPIRES))
		return -EBADMSG;
	s->nperm++;
	return 0;
}

static int state_get_chan(struct state_alloc *s, const struct nts_tlv *rec)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv f;
	unsigned seen = 0, n = s->nchan;
	int rc;

	if (n >= TURN_MAX_CHANNELS)
		return -EBADMSG;
	while ((rc = nts_tlv_next(&rd, &f)) > 0) {
		switch (f.type) {
		case TC_NUM:
			rc = nts_tlv_u16(&f, &s->chan[n].num);
			break;
		case TC_PEER:
			rc = nts_tlv_addr(&f, &s->chan[n].peer);
			break;
		case TC_EXPIRES:
			rc = nts_tlv_u64(&f, &s->chan[n].expires);
			break;
		case TC_COOLING:
			rc = nts_tlv_u8(&f, &s->chan[n].cooling);
			break;
		default:
			rc = nts_tlv_unknown(&f);
			continue;
		}
		if (rc)
			return rc;
		seen |= 1u << f.type;
	}
	if (rc < 0 || seen != (1u << TC_NUM | 1u << TC_PEER | 1u << TC_EXPIRES | 1u << TC_COOLING))
		return -EBADMSG;
	/* The numbers a ChannelBind accepts (RFC 5766's 0x4000-0x7FFF, see stun.h), one binding per
	 * number and per peer (RFC 8656 §12). */
	if (s->chan[n].num < STUN_CHANNEL_MIN || s->chan[n].num > STUN_CHANNEL_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < n; i++)
		if (s->chan[i].num == s->chan[n].num ||
		    nts_addr_equal(&s->chan[i].peer, &s->chan[n].peer, true))
			return -EBADMSG;
	s->nchan++;
	return 0;
}

static int state_get_counters(struct state_alloc *s, const struct nts_tlv *f)
{
	if (f->len != 32)
		return -EBADMSG;
	for (int i = 0; i < 4; i++) {
		s->ctr[i] = 0;
		for (int k = 0; k < 8; k++)
			s->ctr[i] |= (uint64_t)f->v[i * 8 + k] << (8 * k);
	}
	s->has_ctr = true;
	return 0;
}

static int state_get_alloc(struct state_alloc *s, const struct nts_tlv *rec)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv f;
	int rc;

	memset(s, 0, offsetof(struct state_alloc, perm));
	s->nperm = s->nchan = 0;
	s->transport = 0xff;
	while ((rc = nts_tlv_next(&rd, &f)) > 0) {
		switch (f.type) {
		case TA_ID:
			rc = nts_tlv_u64(&f, &s->id), s->has_id = true;
			break;
		case TA_TRANSPORT:
			rc = nts_tlv_u8(&f, &s->transport);
			break;
		case TA_CLIENT:
			rc = nts_tlv_addr(&f, &s->client), s->has_client = true;
			break;
		case TA_SERVER:
			rc = nts_tlv_addr(&f, &s->server), s->has_server = true;
			break;
		case TA_LISTENER:
			rc = nts_tlv_u32(&f, &s->listener), s->has_listener = true;
			break;
		case TA_RELAY:
			rc = state_get_relay(s, &f);
			break;
		case TA_USER:
			rc = nts_tlv_str(&f, s->user, sizeof(s->user)), s->has_user = true;
			break;
		case TA_ACCOUNT:
			rc = nts_tlv_str(&f, s->account, sizeof(s->account));
			break;
		case TA_EXPIRES:
			rc = nts_tlv_u64(&f, &s->expires), s->has_expires = true;
			break;
		case TA_CRED_END:
			rc = nts_tlv_u64(&f, &s->cred_end), s->has_cred_end = true;
			break;
		case TA_LAST_TID:
			rc = f.len == STUN_TID_LEN ? 0 : -EBADMSG;
			if (!rc)
				memcpy(s->tid, f.v, STUN_TID_LEN), s->has_tid = true;
			break;
		case TA_LAST_RESP:
			rc = f.len && f.len <= TURN_MAX_RESPONSE ? 0 : -EBADMSG;
			s->resp = f.v;
			s->resp_len = f.len;
			break;
		case TA_COUNTERS:
			rc = state_get_counters(s, &f);
			break;
		case TA_REPORTED:
			rc = nts_tlv_u64(&f, &s->reported);
			break;
		case TA_REPORTED_P2C:
			rc = nts_tlv_u64(&f, &s->reported_p2c);
			break;
		case TA_PERM:
			rc = state_get_perm(s, &f);
			break;
		case TA_CHAN:
			rc = state_get_chan(s, &f);
			break;
		default:
			rc = nts_tlv_unknown(&f);
			break;
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* Only UDP-client allocations travel; the rest of the fields must be there. */
	if (!s->has_id || !s->id || s->id >= (1ull << 40) || s->transport != NTS_UDP ||
	    !s->has_client || !s->has_server || !s->has_listener || !s->nrelay || !s->has_user ||
	    !s->user[0] || !s->has_expires)
		return -EBADMSG;
	if (s->nrelay == 2 && s->relay[0].local.family == s->relay[1].local.family)
		return -EBADMSG;
	return 0;
}

/* Creates the allocation s describes in t with the sockets fds hands over. */
static int state_make_alloc(struct turn_server *t, const struct state_alloc *s,
			    const struct turn_state_fds *fds)
{
	struct nts_origin o = {.transport = NTS_UDP, .client = s->client, .server = s->server};
	struct turn_relay relay[2];
	uint64_t now = turn_now_ms(t), next = t->next_id;
	struct turn_alloc *a;

	if (turn_alloc_find_by_id(t, s->id) || turn_alloc_find(t, &o))
		return -EEXIST;
	o.fd = fds->get(fds->arg, s->listener, true);
	if (o.fd < 0)
		return o.fd;
	memset(relay, 0, sizeof(relay));
	for (unsigned i = 0; i < s->nrelay; i++) {
		relay[i].fd = fds->get(fds->arg, s->relay[i].fd, false);
		if (relay[i].fd < 0) {
			for (unsigned j = 0; j < i; j++)
				close(relay[j].fd);
			return relay[i].fd;
		}
		relay[i].local = s->relay[i].local;
		relay[i].advertised = s->relay[i].advertised;
	}
	t->next_id = s->id; /* the allocation keeps its id: the kernel's entries carry it */
	a = turn_alloc_create(t, &o, s->user, s->account, relay, s->nrelay, 1);
	t->next_id =
	    next > s->id ? next : s->id + t->id_stride; /* workers: ids keep their worker */
	if (!a)
		return -ENOMEM;
	/* Workers: the quotas count it (the old ntsd admitted it: no limit applies now). */
	if (t->shared && turn_shared_take(t->shared, s->user, s->account, 0, 0, 0) == 0)
		a->shared_held = true;
	a->cred_end_ms = s->has_cred_end ? state_at(s->cred_end, now) : 0;
	if (a->cred_end_ms == 0 && s->has_cred_end)
		a->cred_end_ms = 1; /* ran out already: the next tick ends it */
	a->expires_ms = state_at(s->expires, now);
	turn_timer_arm(t->wheel, &a->timer, a->expires_ms);
	if (s->has_tid)
		memcpy(a->last_tid, s->tid, STUN_TID_LEN);
	if (s->resp) {
		a->last_resp = malloc(s->resp_len);
		if (a->last_resp) {
			memcpy(a->last_resp, s->resp, s->resp_len);
			a->last_resp_len = (uint16_t)s->resp_len;
		}
	}
	if (s->has_ctr) {
		a->c2p_packets = s->ctr[0];
		a->c2p_bytes = s->ctr[1];
		a->p2c_packets = s->ctr[2];
		a->p2c_bytes = s->ctr[3];
	}
	a->reported_c2p = s->reported;
	a->reported_p2c = s->reported_p2c;
	if (a->reported_c2p != a->c2p_bytes || a->reported_p2c != a->p2c_bytes)
		turn_alloc_touch(t, a); /* the rest is reported at the next round */
	for (unsigned i = 0; i < s->nperm; i++) {
		struct turn_perm *p;

		if (turn_perm_install(t, a, &s->perm[i].peer) < 0 ||
		    !(p = turn_perm_find(t, a, &s->perm[i].peer)))
			return -ENOMEM;
		p->expires_ms = state_at(s->perm[i].expires, now);
		turn_timer_arm(t->wheel, &p->timer, p->expires_ms);
	}
	for (unsigned i = 0; i < s->nchan; i++) {
		struct turn_chan *c;

		if (turn_chan_bind(t, a, s->chan[i].num, &s->chan[i].peer) < 0 ||
		    !(c = turn_chan_find_num(t, a, s->chan[i].num)))
			return -ENOMEM;
		c->expires_ms = state_at(s->chan[i].expires, now);
		if (s->chan[i].cooling) {
			c->cooling = true;
			t->stats->channels_current--;
			c->timer.kind = TURN_T_CHAN_COOL;
			turn_timer_arm(t->wheel, &c->timer,
				       c->expires_ms + TURN_CHANNEL_COOLDOWN * 1000ULL);
		} else {
			turn_timer_arm(t->wheel, &c->timer, c->expires_ms);
		}
	}
	return 0;
}

static int state_server(struct turn_server *t, const struct nts_tlv *rec)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv f;
	uint64_t next_id = 0, next_tid = 0;
	int rc;

	while ((rc = nts_tlv_next(&rd, &f)) > 0) {
		if (f.type == TS_NEXT_ID)
			rc = nts_tlv_u64(&f, &next_id);
		else if (f.type == TS_NEXT_TID)
			rc = nts_tlv_u64(&f, &next_tid);
		else
			rc = nts_tlv_unknown(&f);
		if (rc)
			return rc;
	}
	if (rc < 0 || !next_id || next_id >= (1ull << 40))
		return -EBADMSG;
	if (t) {
		if (next_id > t->next_id)
			t->next_id = next_id;
		if (next_tid)
			t->next_tid = next_tid;
	}
	return 0;
}

static int state_resv(struct turn_server *t, const struct nts_tlv *rec,
		      const struct turn_state_fds *fds)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv f;
	uint64_t token = 0, left = 0;
	uint32_t idx = 0;
	struct nts_addr local;
	unsigned seen = 0;
	struct turn_resv *r;
	int rc;

	while ((rc = nts_tlv_next(&rd, &f)) > 0) {
		switch (f.type) {
		case TV_TOKEN:
			rc = nts_tlv_u64(&f, &token);
			break;
		case TV_FD:
			rc = nts_tlv_u32(&f, &idx);
			break;
		case TV_LOCAL:
			rc = nts_tlv_addr(&f, &local);
			break;
		case TV_EXPIRES:
			rc = nts_tlv_u64(&f, &left);
			break;
		default:
			rc = nts_tlv_unknown(&f);
			continue;
		}
		if (rc)
			return rc;
		seen |= 1u << f.type;
	}
	if (rc < 0 || seen != (1u << TV_TOKEN | 1u << TV_FD | 1u << TV_LOCAL | 1u << TV_EXPIRES))
		return -EBADMSG;
	if (!t)
		return 0;
	if (t->shared) {
		int fd = fds->get(fds->arg, idx, false);

		if (fd < 0)
			return fd;
		rc = turn_shared_resv_put(t->shared, token, fd, &local,
					  state_at(left, nts_monotonic_ms()));
		if (rc)
			close(fd);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fds->get(fds->arg, idx, false);
	if (r->fd < 0) {
		rc = r->fd;
		free(r);
		return rc;
	}
	r->token = token;
	r->local = local;
	r->timer.kind = TURN_T_RESV;
	turn_htab_insert(&t->resv, &r->node, turn_mix64(r->token ^ t->seed));
	turn_timer_arm(t->wheel, &r->timer, state_at(left, turn_now_ms(t)));
	return 0;
}

int turn_state_import(struct turn_server *t, const struct nts_tlv *rec,
		      const struct turn_state_fds *fds)
{
	struct state_alloc *s;
	int rc;

	switch (rec->type) {
	case NTS_REC_TURN_SERVER:
		return state_server(t, rec);
	case NTS_REC_TURN_RESV:
		return state_resv(t, rec, fds);
	case NTS_REC_TURN_ALLOC:
		break;
	default:
		return -ENOENT;
	}
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = state_get_alloc(s, rec);
	if (!rc && t)
		rc = state_make_alloc(t, s, fds);
	free(s);
	return rc;
}
