/* XDP fast path, the clock: bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE, what expiries and
 * limits are measured in) without a helper call per packet. The coarse clock moves only when the
 * tick advances jiffies and then the timekeeping, so while jiffies (bpf_jiffies64(), which the
 * verifier inlines into one load) has not moved, this CPU's last reading is still the clock.
 */
#ifndef NTS_BPF_FASTPATH_CLOCK_H
#define NTS_BPF_FASTPATH_CLOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_maps.h"

/* The coarse clock now. A reading taken for a new jiffy is kept only once it moved too: the tick
 * advances jiffies before the timekeeping, and a reading between the two, kept, would be a tick
 * old for the whole jiffy. The next packet reads again instead. */
static __always_inline __u64 fp_now(void)
{
	__u32 zero = 0;
	struct nts_fp_clock *c = bpf_map_lookup_elem(&nts_fp_clock, &zero);
	__u64 j = bpf_jiffies64(), now;

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->jiffies == j)
		return c->ns;
	now = bpf_ktime_get_coarse_ns();
	if (now != c->ns) {
		c->ns = now;
		c->jiffies = j;
	}
	return now;
}

#endif /* NTS_BPF_FASTPATH_CLOCK_H */
