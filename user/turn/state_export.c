/* Handing TURN's state to another ntsd (docs/architecture.md, "Upgrading without dropping
 * calls"): every UDP-client allocation with its relay sockets, permissions, channels (cooling ones
 * too), counters and kept Allocate answer, the reservations of EVEN-PORT, and the id counters,
 * as records of the upgrade stream (user/util/tlv.h; state_import.c reads them back).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "turn/state_io.h"
#include "turn/turn_internal.h"
#include "util/log.h"

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
