/* Token buckets for unauthenticated requests; see ratelimit.h. Tokens are kept in thousandths so a
 * rate of r per second refills exactly r thousandths per millisecond, with no division on the hot
 * path.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"

#define RATELIMIT_MAX_SLOTS (1u << 24)
#define MILLI 1000u

struct ratelimit_bucket {
	uint64_t tokens; /* thousandths of a token */
	uint64_t last_ms;
};

struct ratelimit {
	uint64_t rate; /* thousandths of a token per ms == tokens per second */
	uint64_t cap;  /* burst, in thousandths */
	uint64_t seed;
	unsigned mask;
	struct ratelimit_bucket *slots;
};

struct ratelimit *ratelimit_create(uint32_t rate, uint32_t burst, unsigned slots, uint64_t seed)
{
	struct ratelimit *rl;
	unsigned n = 1;

	if (slots == 0)
		slots = RATELIMIT_DEFAULT_SLOTS;
	if (slots > RATELIMIT_MAX_SLOTS)
		return NULL;
	while (n < slots)
		n <<= 1;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->slots = calloc(n, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return NULL;
	}
	rl->mask = n - 1;
	rl->rate = rate;
	rl->cap = (uint64_t)(burst ? burst : rate) * MILLI;
	if (!seed && RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
		seed =
		    (uint64_t)(uintptr_t)rl ^ 0x9e3779b97f4a7c15ULL; /* still unpredictable-ish */
	rl->seed = seed;
	for (unsigned i = 0; i < n; i++)
		rl->slots[i].tokens = rl->cap; /* a source starts with a full bucket */
	return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	free(rl);
}

unsigned ratelimit_slot(const struct ratelimit *rl, const struct nts_addr *src)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct nts_addr key;

	memset(&key, 0, sizeof(key));
	key.family = src->family;
	if (src->family == AF_INET6 && memcmp(src->ip, v4mapped, 12) == 0) {
		/* a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: key them as IPv4 */
		key.family = AF_INET;
		memcpy(key.ip, src->ip + 12, 4);
	} else if (src->family == AF_INET6) {
		memcpy(key.ip, src->ip, 8); /* /64: one subscriber can hold all of it */
	} else {
		memcpy(key.ip, src->ip, 4);
	}
	return (unsigned)(nts_addr_hash(&key, false, rl->seed) & rl->mask);
}

bool ratelimit_allow(struct ratelimit *rl, const struct nts_addr *src, uint64_t now_ms)
{
	struct ratelimit_bucket *b;

	if (rl->rate == 0)
		return true;
	b = &rl->slots[ratelimit_slot(rl, src)];
	if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;
		/* a bucket idle long enough to refill completely; avoids overflow on the first call
		 */
		if (elapsed >= rl->cap / rl->rate + 1)
			b->tokens = rl->cap;
		else if (b->tokens + elapsed * rl->rate >= rl->cap)
			b->tokens = rl->cap;
		else
			b->tokens += elapsed * rl->rate;
		b->last_ms = now_ms;
	}
	if (b->tokens < MILLI)
		return false;
	b->tokens -= MILLI;
	return true;
}
