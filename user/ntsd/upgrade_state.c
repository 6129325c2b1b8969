/* Upgrading without dropping calls: the state stream. The old ntsd writes its state (listening
 * sockets, allocations, nonce key, fast-path generation, counters) as TLV records, one section per
 * relay worker; the new one checks the whole stream before it touches anything, then adopts it.
 * The process handover that carries the stream is upgrade.c. See docs/architecture.md.
 */
#include "ntsd/upgrade.h"
#include "ntsd/upgrade_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/auth.h"
#include "ctl/ctl.h"
#include "fastpath/fastpath.h"
#include "net/net.h"
#include "ntsd/workers.h"
#include "turn/turn.h"
#include "util/log.h"

/* Fields of the ntsd records. */
enum { UM_VERSION = 1, UM_PID = 2, UM_FDS = 3 };  /* NTS_REC_META */
enum { UF_INDEX = 1, UF_KIND = 2, UF_LOCAL = 3 }; /* NTS_REC_FD */
/* UF_KIND values; UF_ALT: an RFC 5780 alternate UDP socket (--alt-ip, user/net/alt.c) */
enum { UF_UDP = 1, UF_TCP = 2, UF_TLS = 3, UF_CTL = 4, UF_API = 5, UF_ALT = 6 };
enum { US_ENTRY = 1, US_NAME = 1, US_VALUE = 2 }; /* NTS_REC_STATS */
enum { UA_KEY = 1 };				  /* NTS_REC_AUTH_NONCE */
enum { UP_GEN = 1 };				  /* NTS_REC_FASTPATH */
enum { UQ_ID = 1, UQ_FOLDED = 2 };		  /* NTS_REC_FP_ALLOC */
enum { UW_INDEX = 1, UW_COUNT = 2 };		  /* NTS_REC_WORKER */

static int up_fd_put(void *arg, int fd, bool shared)
{
	struct up_fdtab *ft = arg;
	int *p;

	if (shared) {
		for (size_t i = 0; i < ft->nshared; i++)
			if (ft->fds[i] == fd)
				return (int)i;
		return -EBADF; /* a listener the stream does not describe */
	}
	if (fd < 0)
		return -EBADF;
	if (ft->n == ft->cap) {
		p = realloc(ft->fds, (ft->cap ? ft->cap * 2 : 64) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ft->fds = p;
		ft->cap = ft->cap ? ft->cap * 2 : 64;
	}
	ft->fds[ft->n] = fd;
	return (int)ft->n++;
}

static int up_fd_get(void *arg, uint32_t index, bool shared)
{
	struct ntsd_upgrade *u = arg;

	if (index >= u->nfds || u->fds[index] < 0)
		return -EBADF;
	if (shared)
		return u->taken[index] ? u->fds[index] : -EBADF; /* its owner adopted it first */
	if (u->taken[index])
		return -EBADF; /* one socket, one owner */
	u->taken[index] = 1;
	return u->fds[index];
}

static void up_put_listener(struct nts_tlv_buf *b, struct up_fdtab *ft, int fd, uint8_t kind,
			    const struct nts_addr *local)
{
	size_t off;
	int idx = up_fd_put(ft, fd, false);

	if (idx < 0) {
		b->err = idx;
		return;
	}
	ft->nshared = ft->n;
	off = nts_tlv_begin(b, NTS_REC_FD, true);
	nts_tlv_put_u32(b, UF_INDEX, true, (uint32_t)idx);
	nts_tlv_put_u8(b, UF_KIND, true, kind);
	if (local)
		nts_tlv_put_addr(b, UF_LOCAL, false, local);
	nts_tlv_end(b, off);
}

static void up_put_stats(struct nts_tlv_buf *b, const struct nts_stats *s)
{
	size_t off = nts_tlv_begin(b, NTS_REC_STATS, false), e;
	char name[32];

#define UP_STAT(field, pname, type, labels, help)                                                  \
	if (!strcmp(type, "counter")) {                                                            \
		e = nts_tlv_begin(b, US_ENTRY, false);                                             \
		nts_tlv_put_str(b, US_NAME, true, #field);                                         \
		nts_tlv_put_u64(b, US_VALUE, true, s->field);                                      \
		nts_tlv_end(b, e);                                                                 \
	}
	NTS_STATS_COUNTERS(UP_STAT)
#undef UP_STAT
	for (int i = 0; i < NTS_M_COUNT; i++) {
		e = nts_tlv_begin(b, US_ENTRY, false);
		snprintf(name, sizeof(name), "requests.%d", i);
		nts_tlv_put_str(b, US_NAME, true, name);
		nts_tlv_put_u64(b, US_VALUE, true, s->requests[i]);
		nts_tlv_end(b, e);
		e = nts_tlv_begin(b, US_ENTRY, false);
		snprintf(name, sizeof(name), "errors.%d", i);
		nts_tlv_put_str(b, US_NAME, true, name);
		nts_tlv_put_u64(b, US_VALUE, true, s->errors[i]);
		nts_tlv_end(b, e);
	}
	nts_tlv_end(b, off);
}

/* A counter by the name up_put_stats() gives it, or NULL. */
static uint64_t *up_stat_slot(struct nts_stats *s, const char *name)
{
	int i;
	char c;

#define UP_STAT(field, pname, type, labels, help)                                                  \
	if (!strcmp(type, "counter") && !strcmp(name, #field))                                     \
		return &s->field;
	NTS_STATS_COUNTERS(UP_STAT)
#undef UP_STAT
	if (sscanf(name, "requests.%d%c", &i, &c) == 1 && i >= 0 && i < NTS_M_COUNT)
		return &s->requests[i];
	if (sscanf(name, "errors.%d%c", &i, &c) == 1 && i >= 0 && i < NTS_M_COUNT)
		return &s->errors[i];
	return NULL;
}

struct up_fold_walk {
	struct ntsd *d;
	struct nts_tlv_buf *b;
};

static int up_put_folded(void *arg, const struct turn_alloc_info *a)
{
	struct up_fold_walk *w = arg;
	struct fastpath_fold_mark fm;
	size_t off;

	if (a->origin.transport != NTS_UDP || fastpath_fold_mark(w->d->fastpath, a->id, &fm) != 0)
		return 0;
	off = nts_tlv_begin(w->b, NTS_REC_FP_ALLOC, false);
	nts_tlv_put_u64(w->b, UQ_ID, true, a->id);
	nts_tlv_put(w->b, UQ_FOLDED, true, &fm.folded, sizeof(fm.folded));
	nts_tlv_end(w->b, off);
	return 0;
}

/* Relay workers: the section of worker w starts (none with one worker: one loop's stream). */
static void up_put_worker(struct ntsd *d, struct ntsd_worker *w, struct nts_tlv_buf *b)
{
	size_t off;

	if (d->nworkers < 2)
		return;
	off = nts_tlv_begin(b, NTS_REC_WORKER, true);
	nts_tlv_put_u32(b, UW_INDEX, true, w->index);
	nts_tlv_put_u32(b, UW_COUNT, true, d->nworkers);
	nts_tlv_end(b, off);
}

/* Worker w's listening sockets. */
static void up_put_listeners(struct ntsd_worker *w, struct nts_tlv_buf *b, struct up_fdtab *ft)
{
	static const uint8_t kinds[] = {[NTS_UDP] = UF_UDP, [NTS_TCP] = UF_TCP, [NTS_TLS] = UF_TLS};
	struct net_listener_info li[NET_MAX_LISTENERS];
	size_t n = net_listeners(w->net, li, NET_MAX_LISTENERS);

	for (size_t i = 0; i < n && i < NET_MAX_LISTENERS; i++)
		up_put_listener(b, ft, li[i].fd, kinds[li[i].transport], &li[i].addr);
	n = net_alt_listeners(w->net, li, NET_MAX_LISTENERS);
	for (size_t i = 0; i < n && i < NET_MAX_LISTENERS; i++)
		up_put_listener(b, ft, li[i].fd, UF_ALT, &li[i].addr);
}

/* Worker w's allocations and the kernel counters folded for them. */
static int up_put_turn(struct ntsd *d, struct ntsd_worker *w, struct nts_tlv_buf *b,
		       struct up_fdtab *ft)
{
	const struct turn_state_fds fds = {.put = up_fd_put, .arg = ft};
	int rc = turn_state_export(w->turn, b, &fds);

	if (rc)
		return rc;
	if (d->fastpath)
		turn_foreach_alloc(w->turn, up_put_folded, &(struct up_fold_walk){d, b});
	return 0;
}

/* The whole state of d as a stream, with the sockets it names in ft (relay workers parked). One
 * worker writes one loop's stream, as before workers existed; more write a section each. */
int ntsd_up_encode(struct ntsd *d, struct nts_tlv_buf *b, struct up_fdtab *ft)
{
	bool one = d->nworkers < 2;
	struct nts_stats st;
	size_t off;
	uint8_t key[64];
	int rc, api_fd = d->api ? api_http_listen_fd(d->api) : -1;

	rc = nts_tlv_init(b);
	if (rc)
		return rc;
	if (one)
		up_put_listeners(&d->workers[0], b, ft);
	up_put_listener(b, ft, ctl_server_fd(d->ctl), UF_CTL, NULL);
	if (api_fd >= 0)
		up_put_listener(b, ft, api_fd, UF_API, NULL);
	rc = auth_nonce_key_get(d->auth, key, sizeof(key));
	if (rc > 0) {
		off = nts_tlv_begin(b, NTS_REC_AUTH_NONCE, false);
		nts_tlv_put(b, UA_KEY, true, key, (size_t)rc);
		nts_tlv_end(b, off);
		explicit_bzero(key, sizeof(key));
	}
	if (d->fastpath) {
		off = nts_tlv_begin(b, NTS_REC_FASTPATH, false);
		nts_tlv_put_u32(b, UP_GEN, true, fastpath_generation(d->fastpath));
		nts_tlv_end(b, off);
	}
	ntsd_foreach_worker (d, w) {
		up_put_worker(d, w, b);
		if (!one)
			up_put_listeners(w, b, ft);
		rc = up_put_turn(d, w, b, ft);
		if (rc)
			return rc;
	}
	ntsd_stats_sum(d, &st);
	up_put_stats(b, &st);
	off = nts_tlv_begin(b, NTS_REC_META, true);
	nts_tlv_put_str(b, UM_VERSION, false, NTS_VERSION);
	nts_tlv_put_u32(b, UM_PID, false, (uint32_t)getpid());
	nts_tlv_put_u32(b, UM_FDS, true, (uint32_t)ft->n);
	nts_tlv_end(b, off);
	return nts_tlv_finish(b);
}

/* Reads the fields of a record with only fixed ones: each of want (bit per type) must come. */
struct up_field {
	uint16_t type;
	uint8_t size; /* 1, 4, 8, NTS_TLV_ADDR_LEN, or 0: any length (v/len set) */
	void *out;
	const uint8_t **v;
	uint32_t *len;
	bool seen;
};

#define UP_FIXED(t, sz, p) ((struct up_field){.type = (t), .size = (sz), .out = (p)})
#define UP_BYTES(t, vp, lp) ((struct up_field){.type = (t), .v = (vp), .len = (lp)})

static int up_fields(const struct nts_tlv *rec, struct up_field *f, size_t n)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv x;
	int rc;

	while ((rc = nts_tlv_next(&rd, &x)) > 0) {
		size_t i;

		for (i = 0; i < n && f[i].type != x.type; i++)
			;
		if (i == n) {
			rc = nts_tlv_unknown(&x);
		} else if (f[i].seen) {
			rc = -EBADMSG;
		} else {
			f[i].seen = true;
			switch (f[i].size) {
			case 1:
				rc = nts_tlv_u8(&x, f[i].out);
				break;
			case 4:
				rc = nts_tlv_u32(&x, f[i].out);
				break;
			case 8:
				rc = nts_tlv_u64(&x, f[i].out);
				break;
			case NTS_TLV_ADDR_LEN:
				rc = nts_tlv_addr(&x, f[i].out);
				break;
			default:
				*f[i].v = x.v;
				*f[i].len = x.len;
				rc = 0;
			}
		}
		if (rc)
			return rc;
	}
	return rc;
}

/* What one pass over the stream found (check) or did (adopt). */
struct up_pass {
	struct ntsd *d; /* NULL: check only */
	struct ntsd_upgrade *u;
	size_t nfds;
	uint8_t *fd_seen;
	bool meta;
	unsigned nallocs;
	unsigned worker, nworkers; /* the section being read (NTS_REC_WORKER); 0: one loop's */
};

/* The worker the records being read belong to; NULL when the stream's workers are not this
 * ntsd's (-ERANGE in *rc). */
static struct ntsd_worker *up_worker(struct up_pass *p, int *rc)
{
	unsigned want = p->d->nworkers > 1 ? p->d->nworkers : 0;

	if (p->nworkers != want) {
		*rc = -ERANGE;
		return NULL;
	}
	return &p->d->workers[p->worker];
}

static int up_rec_worker(struct up_pass *p, const struct nts_tlv *rec)
{
	uint32_t idx = 0, count = 0;
	struct up_field f[] = {UP_FIXED(UW_INDEX, 4, &idx), UP_FIXED(UW_COUNT, 4, &count)};
	int rc = up_fields(rec, f, 2);

	if (rc < 0 || !f[0].seen || !f[1].seen || count < 2 || count > NTS_MAX_WORKERS ||
	    idx >= count || (p->nworkers && p->nworkers != count))
		return rc < 0 ? rc : -EBADMSG;
	p->worker = idx;
	p->nworkers = count;
	return 0;
}

static int up_rec_fd(struct up_pass *p, const struct nts_tlv *rec)
{
	uint32_t idx = 0;
	uint8_t kind = 0;
	struct nts_addr local;
	struct up_field f[] = {UP_FIXED(UF_INDEX, 4, &idx), UP_FIXED(UF_KIND, 1, &kind),
			       UP_FIXED(UF_LOCAL, NTS_TLV_ADDR_LEN, &local)};
	int rc = up_fields(rec, f, 3), fd;
	struct ntsd_worker *w = NULL;
	static const enum nts_transport tr[] = {
	    [UF_UDP] = NTS_UDP, [UF_TCP] = NTS_TCP, [UF_TLS] = NTS_TLS};

	if (rc < 0)
		return rc;
	if (!f[0].seen || !f[1].seen || idx >= p->nfds || p->fd_seen[idx] || kind < UF_UDP ||
	    kind > UF_ALT)
		return -EBADMSG;
	p->fd_seen[idx] = 1;
	if (!p->d)
		return 0;
	if (kind != UF_CTL && kind != UF_API && !(w = up_worker(p, &rc)))
		return rc;
	fd = up_fd_get(p->u, idx, false);
	if (fd < 0)
		return fd;
	switch (kind) {
	case UF_CTL:
		p->d->ctl = ctl_server_adopt(p->d->loop, p->d->cfg.ctl_socket, fd);
		return p->d->ctl ? 0 : -errno;
	case UF_API:
		if (p->u->api_fd >= 0)
			return -EBADMSG;
		p->u->api_fd = fd;
		return 0;
	case UF_ALT:
		return net_adopt_alt(w->net, fd);
	default:
		return net_adopt_listener(w->net, tr[kind], fd);
	}
}

static int up_rec_stats(struct up_pass *p, const struct nts_tlv *rec)
{
	struct nts_tlv_rd rd = nts_tlv_sub(rec);
	struct nts_tlv e;
	int rc;

	while ((rc = nts_tlv_next(&rd, &e)) > 0) {
		char name[32] = "";
		uint64_t v = 0, *slot;
		const uint8_t *s = NULL;
		uint32_t len = 0;
		struct up_field f[] = {UP_BYTES(US_NAME, &s, &len), UP_FIXED(US_VALUE, 8, &v)};

		if (e.type != US_ENTRY) {
			rc = nts_tlv_unknown(&e);
			if (rc)
				return rc;
			continue;
		}
		rc = up_fields(&e, f, 2);
		if (rc < 0 || !f[0].seen || !f[1].seen || len >= sizeof(name))
			return rc < 0 ? rc : -EBADMSG;
		memcpy(name, s, len);
		name[len] = 0;
		/* Counters this build does not know are dropped; gauges are rebuilt. */
		if (p->d && (slot = up_stat_slot(&p->d->stats, name)))
			*slot = v;
	}
	return rc;
}

static int up_rec_small(struct up_pass *p, const struct nts_tlv *rec)
{
	uint64_t id = 0;
	uint32_t gen = 0, n = 0;
	const uint8_t *v = NULL;
	uint32_t len = 0;
	struct up_field f[3] = {{0}};
	int rc;

	switch (rec->type) {
	case NTS_REC_META:
		f[0] = UP_FIXED(UM_FDS, 4, &n);
		rc = up_fields(rec, f, 1);
		if (rc < 0 || !f[0].seen || n != p->nfds || p->meta)
			return rc < 0 ? rc : -EBADMSG;
		p->meta = true;
		return 0;
	case NTS_REC_AUTH_NONCE:
		f[0] = UP_BYTES(UA_KEY, &v, &len);
		rc = up_fields(rec, f, 1);
		if (rc < 0 || !f[0].seen || !len)
			return rc < 0 ? rc : -EBADMSG;
		if (!p->d)
			return 0;
		rc = auth_nonce_key_set(p->d->auth, v, len);
		for (unsigned i = 0; !rc && p->d->nworkers > 1 && i < p->d->nworkers; i++)
			rc = auth_nonce_key_set(p->d->workers[i].auth, v, len);
		return rc;
	case NTS_REC_FASTPATH:
		f[0] = UP_FIXED(UP_GEN, 4, &gen);
		rc = up_fields(rec, f, 1);
		if (rc < 0 || !f[0].seen || !gen || gen > NTS_FP_GEN_MAX)
			return rc < 0 ? rc : -EBADMSG;
		if (p->d)
			p->d->fastpath_gen = gen;
		return 0;
	case NTS_REC_FP_ALLOC: /* applied by ntsd_upgrade_finish(), once the maps are open */
		f[0] = UP_FIXED(UQ_ID, 8, &id);
		f[1] = UP_BYTES(UQ_FOLDED, &v, &len);
		rc = up_fields(rec, f, 2);
		if (rc < 0 || !f[0].seen || !f[1].seen ||
		    len != sizeof(struct nts_fp_alloc_counters))
			return rc < 0 ? rc : -EBADMSG;
		return 0;
	}
	return nts_tlv_unknown(rec);
}

/* One pass over the records: p->d NULL checks everything, else adopts it. */
static int up_pass(struct up_pass *p, const uint8_t *buf, size_t len)
{
	struct turn_state_fds fds = {.get = up_fd_get, .arg = p->u};
	struct nts_tlv_rd body;
	struct nts_tlv rec;
	uint16_t version;
	int rc;

	rc = nts_tlv_open(buf, len, &version, &body);
	if (rc)
		return rc;
	while ((rc = nts_tlv_next(&body, &rec)) > 0) {
		switch (rec.type) {
		case NTS_REC_FD:
			rc = up_rec_fd(p, &rec);
			break;
		case NTS_REC_STATS:
			rc = p->d ? 0 : up_rec_stats(p, &rec);
			break;
		case NTS_REC_WORKER:
			rc = up_rec_worker(p, &rec);
			break;
		case NTS_REC_TURN_SERVER:
		case NTS_REC_TURN_ALLOC:
		case NTS_REC_TURN_RESV: {
			struct ntsd_worker *w = p->d ? up_worker(p, &rc) : NULL;

			if (p->d && !w)
				break;
			rc = turn_state_import(w ? w->turn : NULL, &rec, &fds);
			p->nallocs += rec.type == NTS_REC_TURN_ALLOC && !rc;
			break;
		}
		default:
			rc = up_rec_small(p, &rec);
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (!p->meta && !p->d)
		return -EBADMSG;
	if (!p->d)
		return 0;
	/* Counters last: the allocations just rebuilt counted themselves as created. */
	body.off = 0;
	while (nts_tlv_next(&body, &rec) > 0)
		if (rec.type == NTS_REC_STATS && (rc = up_rec_stats(p, &rec)))
			return rc;
	return 0;
}

int ntsd_upgrade_check(const uint8_t *buf, size_t len, size_t nfds)
{
	struct up_pass p = {.nfds = nfds};
	int rc;

	p.fd_seen = calloc(nfds ? nfds : 1, 1);
	if (!p.fd_seen)
		return -ENOMEM;
	rc = up_pass(&p, buf, len);
	free(p.fd_seen);
	return rc;
}

unsigned ntsd_upgrade_workers(const struct ntsd *d)
{
	struct nts_tlv_rd body;
	struct nts_tlv rec;
	uint16_t version;

	if (!d->upgrade || nts_tlv_open(d->upgrade->buf, d->upgrade->len, &version, &body))
		return 0;
	while (nts_tlv_next(&body, &rec) > 0) {
		uint32_t idx = 0, count = 0;
		struct up_field f[] = {UP_FIXED(UW_INDEX, 4, &idx), UP_FIXED(UW_COUNT, 4, &count)};

		if (rec.type == NTS_REC_WORKER && up_fields(&rec, f, 2) == 0 && f[1].seen)
			return count;
	}
	return 1; /* one loop's stream */
}

int ntsd_upgrade_adopt(struct ntsd *d)
{
	struct up_pass p = {.d = d, .u = d->upgrade, .nfds = d->upgrade->nfds};
	int rc;

	p.fd_seen = calloc(p.nfds ? p.nfds : 1, 1);
	if (!p.fd_seen)
		return -ENOMEM;
	rc = up_pass(&p, d->upgrade->buf, d->upgrade->len);
	free(p.fd_seen);
	if (rc == -ERANGE)
		log_error("upgrade: the handover holds %u relay workers' state, this ntsd runs %u: "
			  "give both the same --workers",
			  p.nworkers ? p.nworkers : 1, d->nworkers);
	else if (rc)
		log_error("upgrade: cannot rebuild the state: %s", strerror(-rc));
	else
		log_info("upgrade: rebuilt %u allocations", p.nallocs);
	return rc;
}

/* The kernel counters the old ntsd had folded, so this one reports only what came after. */
void ntsd_up_restore_folded(struct ntsd *d)
{
	struct ntsd_upgrade *u = d->upgrade;
	struct nts_tlv_rd body;
	struct nts_tlv rec;
	uint16_t version;

	if (!d->fastpath || nts_tlv_open(u->buf, u->len, &version, &body))
		return;
	while (nts_tlv_next(&body, &rec) > 0) {
		struct nts_fp_alloc_counters last;
		uint64_t id = 0;
		const uint8_t *v = NULL;
		uint32_t len = 0;
		struct up_field f[] = {UP_FIXED(UQ_ID, 8, &id), UP_BYTES(UQ_FOLDED, &v, &len)};

		if (rec.type != NTS_REC_FP_ALLOC || up_fields(&rec, f, 2) || len != sizeof(last))
			continue;
		memcpy(&last, v, sizeof(last));
		/* The store's mark (wire_usage.c) says the same from now on. */
		if (fastpath_alloc_set_folded(d->fastpath, id, &last) == 0)
			ntsd_usage_kernel_track(d, id);
	}
}
