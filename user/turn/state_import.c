/* Taking TURN's state over from the ntsd before (state_export.c writes it): the records of the
 * upgrade stream read back into allocations, relay sockets, permissions, channels, EVEN-PORT
 * reservations and the id counters, each checked before anything is created.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "turn/state_io.h"
#include "turn/turn_internal.h"
#include "util/log.h"

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
