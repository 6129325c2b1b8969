/* Per-account token buckets for minting tokens (--token-rate per second, --token-burst deep): a
 * fixed table of slots keyed by AccountSid with a short probe, so memory is bounded whatever the
 * number of accounts. Only authenticated requests reach it, so no one drains another's bucket. A
 * slot whose bucket has refilled is as good as empty and is reused; when every probed slot is busy
 * the fullest is taken over (that account's bucket restarts full: lenient, never stricter).
 * Time is api_handle()'s unix seconds: buckets refill once a second, in whole seconds' worth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/api_priv.h"
#include "store/store.h"

#define API_RATE_SLOTS 4096 /* power of two */
#define API_RATE_PROBE 8

struct api_rate_slot {
	char sid[STORE_SID_LEN + 1]; /* "" when free */
	uint64_t last;		     /* unix second of the last refill */
	uint64_t tokens;	     /* whole tokens left */
};

struct api_rate {
	uint32_t rate, burst;
	uint64_t seed;
	struct api_rate_slot slot[API_RATE_SLOTS];
};

struct api_rate *api_rate_create(uint32_t rate, uint32_t burst)
{
	struct api_rate *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->rate = rate;
	r->burst = burst ? burst : rate;
	if (getrandom(&r->seed, sizeof(r->seed), 0) != sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r;
	return r;
}

void api_rate_destroy(struct api_rate *r)
{
	free(r);
}

void api_rate_set(struct api_rate *r, uint32_t rate, uint32_t burst)
{
	r->rate = rate;
	r->burst = burst ? burst : rate;
}

/* Refills slot up to the burst for the seconds since its last refill (a clock that went back
 * refills nothing). */
static void api_rate_refill(const struct api_rate *r, struct api_rate_slot *sl, uint64_t now)
{
	uint64_t add = now > sl->last ? (now - sl->last) * r->rate : 0;

	sl->tokens = sl->tokens + add > r->burst ? r->burst : sl->tokens + add;
	sl->last = now > sl->last ? now : sl->last;
}

bool api_rate_allow(struct api_rate *r, const char *sid, uint64_t now)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ r->seed;
	struct api_rate_slot *sl = NULL, *victim = NULL;

	if (!r->rate)
		return true;
	for (const char *p = sid; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	h ^= h >> 29;
	for (unsigned i = 0; i < API_RATE_PROBE && !sl; i++) {
		struct api_rate_slot *c = &r->slot[(h + i) & (API_RATE_SLOTS - 1)];

		if (!strcmp(c->sid, sid)) {
			sl = c;
		} else if (!c->sid[0]) {
			if (!victim || victim->sid[0])
				victim = c; /* a free slot beats any taken one */
		} else {
			api_rate_refill(r, c, now);
			if (!victim || (victim->sid[0] && c->tokens > victim->tokens))
				victim = c;
		}
	}
	if (!sl) {
		sl = victim;
		snprintf(sl->sid, sizeof(sl->sid), "%s", sid);
		sl->tokens = r->burst;
		sl->last = now;
	}
	api_rate_refill(r, sl, now);
	if (!sl->tokens)
		return false;
	sl->tokens--;
	return true;
}
