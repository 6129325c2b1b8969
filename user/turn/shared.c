/* What relay workers share (docs/architecture.md "Threading model"): allocation counts per
 * username, per account and in total, so that quotas hold exactly across workers, and one number
 * per account (the fast path's bucket key). Taken under one mutex at Allocate and when an
 * allocation ends, never per packet. EVEN-PORT reservations live here too: the Allocate that
 * redeems a RESERVATION-TOKEN comes from another client, which may be another worker's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "turn/turn_internal.h"

#define TURN_SHARED_BUCKETS 1024

struct turn_shared_name {
	struct turn_shared_name *next;
	uint64_t id; /* accounts: their number */
	unsigned nallocs;
	/* Accounts: the userspace --max-bps buckets (c2p, p2c) every worker takes from, so the
	 * account's rate holds over all its allocations wherever they live; the lock is the
	 * entry's own, taken per datagram of a limited account only. */
	pthread_mutex_t bucket_lock;
	struct nts_bucket bucket[2];
	char name[];
};

/* An EVEN-PORT reservation (RFC 8656 §7.2): any worker's Allocate may redeem its token. */
struct turn_shared_resv {
	struct turn_shared_resv *next;
	uint64_t token;
	int fd; /* the reserved port's socket */
	struct nts_addr local;
	uint64_t expires_ms; /* monotonic */
};

struct turn_shared {
	pthread_mutex_t lock;
	struct turn_shared_resv *resv;
	struct turn_shared_name *users[TURN_SHARED_BUCKETS], *accounts[TURN_SHARED_BUCKETS];
	uint64_t nallocs;
	uint64_t next_account_id;
};

struct turn_shared *turn_shared_create(void)
{
	struct turn_shared *s = calloc(1, sizeof(*s));

	if (s && pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void turn_shared_free_chain(struct turn_shared_name **b, bool accounts)
{
	for (size_t i = 0; i < TURN_SHARED_BUCKETS; i++)
		while (b[i]) {
			struct turn_shared_name *n = b[i];

			b[i] = n->next;
			if (accounts)
				pthread_mutex_destroy(&n->bucket_lock);
			free(n);
		}
}

void turn_shared_destroy(struct turn_shared *s)
{
	if (!s)
		return;
	while (s->resv) {
		struct turn_shared_resv *r = s->resv;

		s->resv = r->next;
		close(r->fd);
		free(r);
	}
	turn_shared_free_chain(s->users, false);
	turn_shared_free_chain(s->accounts, true);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* name's slot in table b (found or to be filled), under s->lock. */
static struct turn_shared_name **turn_shared_slot(struct turn_shared_name **b, const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	struct turn_shared_name **p;

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ULL;
	for (p = &b[turn_mix64(h) % TURN_SHARED_BUCKETS]; *p && strcmp((*p)->name, name);
	     p = &(*p)->next)
		;
	return p;
}

/* name's entry in table b, made when missing; NULL on ENOMEM. Under s->lock. */
static struct turn_shared_name *turn_shared_get(struct turn_shared *s, struct turn_shared_name **b,
						const char *name)
{
	struct turn_shared_name **p = turn_shared_slot(b, name), *n = *p;
	size_t len = strlen(name);

	if (n)
		return n;
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	memcpy(n->name, name, len + 1);
	if (b == s->accounts) {
		n->id = ++s->next_account_id;
		pthread_mutex_init(&n->bucket_lock, NULL);
	}
	*p = n;
	return n;
}

uint64_t turn_shared_total(struct turn_shared *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nallocs;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int turn_shared_take(struct turn_shared *s, const char *user, const char *account,
		     uint32_t max_user, uint32_t max_account, uint32_t max_total)
{
	struct turn_shared_name *u, *a = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	u = turn_shared_get(s, s->users, user);
	if (u && account && *account)
		a = turn_shared_get(s, s->accounts, account);
	if (!u || (account && *account && !a))
		rc = -ENOMEM;
	else if (max_user && u->nallocs >= max_user)
		rc = 486;
	else if (a && max_account && a->nallocs >= max_account)
		rc = 486;
	else if (max_total && s->nallocs >= max_total)
		rc = 508;
	if (rc == 0) {
		u->nallocs++;
		if (a)
			a->nallocs++;
		s->nallocs++;
	} else if (u && !u->nallocs) {
		struct turn_shared_name **p = turn_shared_slot(s->users, user);

		*p = u->next;
		free(u);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void turn_shared_put(struct turn_shared *s, const char *user, const char *account)
{
	struct turn_shared_name **p, *n;

	pthread_mutex_lock(&s->lock);
	p = turn_shared_slot(s->users, user);
	if ((n = *p) && n->nallocs && !--n->nallocs) {
		*p = n->next;
		free(n);
	}
	if (account && *account && (n = *turn_shared_slot(s->accounts, account)) && n->nallocs)
		n->nallocs--;
	if (s->nallocs)
		s->nallocs--;
	pthread_mutex_unlock(&s->lock);
}

uint64_t turn_shared_account_id(struct turn_shared *s, const char *sid)
{
	struct turn_shared_name *n = turn_shared_account(s, sid);

	return n ? n->id : 0;
}

struct turn_shared_name *turn_shared_account(struct turn_shared *s, const char *sid)
{
	struct turn_shared_name *n;

	pthread_mutex_lock(&s->lock);
	n = turn_shared_get(s, s->accounts, sid);
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool turn_shared_bucket_take(struct turn_shared_name *acct, int dir, uint64_t now_ns, uint64_t bps,
			     uint32_t len)
{
	bool ok;

	pthread_mutex_lock(&acct->bucket_lock);
	ok = nts_bucket_take(&acct->bucket[dir], now_ns, bps, 0, len);
	pthread_mutex_unlock(&acct->bucket_lock);
	return ok;
}

unsigned turn_shared_account_count(struct turn_shared *s, const char *sid)
{
	struct turn_shared_name *n;
	unsigned c;

	pthread_mutex_lock(&s->lock);
	n = *turn_shared_slot(s->accounts, sid);
	c = n ? n->nallocs : 0;
	pthread_mutex_unlock(&s->lock);
	return c;
}

void turn_set_worker(struct turn_server *t, struct turn_shared *s, unsigned index, unsigned count)
{
	t->shared = s;
	t->worker_index = index;
	if (count > 1) {
		t->next_id = count + index;
		t->id_stride = count;
	}
}

int turn_shared_resv_put(struct turn_shared *s, uint64_t token, int fd,
			 const struct nts_addr *local, uint64_t expires_ms)
{
	struct turn_shared_resv *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	*r = (struct turn_shared_resv){
	    .token = token, .fd = fd, .local = *local, .expires_ms = expires_ms};
	pthread_mutex_lock(&s->lock);
	r->next = s->resv;
	s->resv = r;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int turn_shared_resv_take(struct turn_shared *s, uint64_t token, int *fd, struct nts_addr *local)
{
	struct turn_shared_resv **p, *r = NULL;

	pthread_mutex_lock(&s->lock);
	for (p = &s->resv; *p; p = &(*p)->next)
		if ((*p)->token == token) {
			r = *p;
			*p = r->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (!r)
		return -ENOENT;
	*fd = r->fd;
	*local = r->local;
	free(r);
	return 0;
}

int turn_shared_resv_foreach(struct turn_shared *s, turn_shared_resv_fn fn, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (struct turn_shared_resv *r = s->resv; r && !rc; r = r->next)
		rc = fn(arg, r->token, r->fd, &r->local, r->expires_ms);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void turn_shared_resv_expire(struct turn_shared *s, uint64_t now_ms)
{
	struct turn_shared_resv **p, *r;

	pthread_mutex_lock(&s->lock);
	for (p = &s->resv; (r = *p);) {
		if (r->expires_ms > now_ms) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		close(r->fd);
		free(r);
	}
	pthread_mutex_unlock(&s->lock);
}
