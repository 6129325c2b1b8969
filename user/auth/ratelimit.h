/* Per-source token buckets for unauthenticated requests (docs/architecture.md "Security defaults"):
 * a fixed table of slots keyed by a seeded hash of the source address, so memory is bounded and
 * nothing is allocated per client. Sources whose hash collides share a bucket: a flood can only
 * starve the few sources in its slots.
 */
#ifndef NTS_AUTH_RATELIMIT_H
#define NTS_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"

#define RATELIMIT_DEFAULT_SLOTS 4096

struct ratelimit;

/* rate: requests per second per source (0 disables the limit); burst: bucket depth (0: rate);
 * slots: table size, rounded up to a power of two (0: RATELIMIT_DEFAULT_SLOTS, max 1 << 24);
 * seed: hash seed (0: random, the normal case; fixed only for tests). NULL on failure. */
struct ratelimit *ratelimit_create(uint32_t rate, uint32_t burst, unsigned slots, uint64_t seed);
void ratelimit_destroy(struct ratelimit *rl);
/* Takes one token from src's bucket at now_ms (any monotonic clock in ms); false when empty.
 * IPv6 sources are keyed by their /64 (one subscriber), IPv4 and IPv4-mapped by the full address.
 */
bool ratelimit_allow(struct ratelimit *rl, const struct nts_addr *src, uint64_t now_ms);
/* The slot src maps to (tests and diagnostics). */
unsigned ratelimit_slot(const struct ratelimit *rl, const struct nts_addr *src);

#endif
