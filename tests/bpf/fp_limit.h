/* Helpers of the bandwidth-limit suites (test_fastpath_limit.c, test_fastpath_debt.c): the maps'
 * values a limited allocation's entries name, and one datagram run each way.
 */
#ifndef NTS_TEST_FP_LIMIT_H
#define NTS_TEST_FP_LIMIT_H

#include "fp_fixture.h"

static inline struct nts_fp_client_val client_val(struct fx *fx, const struct net *n, uint16_t channel)
{
	struct nts_fp_client_key k = fp_client_key(n, CLIENT_PORT);
	struct nts_fp_client_val v;

	k.channel = channel;
	assert_int_equal(bpf_map_lookup_elem(fastpath_fds(fx->fp)->client, &k, &v), 0);
	return v;
}

static inline struct nts_fp_limit_val limit_val(struct fx *fx, uint32_t slot)
{
	struct nts_fp_limit_val v;

	assert_int_equal(bpf_map_lookup_elem(fastpath_fds(fx->fp)->limit, &slot, &v), 0);
	return v;
}

static inline struct nts_fp_account_val account_val(struct fx *fx, uint32_t slot)
{
	struct nts_fp_account_val v;

	assert_int_equal(bpf_map_lookup_elem(fastpath_fds(fx->fp)->account, &slot, &v), 0);
	return v;
}

static inline void set_limits(struct fx *fx, uint64_t id, uint64_t bps, uint64_t pps, uint64_t account,
		       uint64_t account_bps)
{
	struct fastpath_limits l = {bps, pps, account, account_bps};

	assert_int_equal(fastpath_alloc_limits(fx->fp, id, &l), 0);
}

/* Runs a client -> peer datagram on channel; returns the verdict. */
static inline uint32_t run_client(struct fx *fx, const struct net *n, uint16_t channel)
{
	struct fp_spec s = {0};
	struct fp_frame in, out;

	client_frame(&in, n, channel, 0, &s);
	return run(fx, &in, &out);
}

static inline uint32_t run_peer(struct fx *fx, const struct net *n)
{
	struct fp_spec s = {0};
	struct fp_frame in, out;

	peer_frame(&in, n, n->peer, &s);
	return run(fx, &in, &out);
}

#endif /* NTS_TEST_FP_LIMIT_H */
