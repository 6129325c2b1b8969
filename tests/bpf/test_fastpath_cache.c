/* The fast path's per-CPU channel caches (bpf/fastpath_cache.h): a copy of an entry serves until
 * nts_fp_epoch moves and NTS_FP_CACHE_TTL_NS at most, a deleted channel is never relayed from one,
 * keys that share a slot each get their own entry, and the epoch lives in the pins. The process
 * runs on one CPU so that every frame sees the same CPU's copies.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "fp_fixture.h"

/* Where a relayed frame went is told by the peer port (client -> peer) or by the channel (peer ->
 * client); the tests rewrite that field of the hash entry behind the epoch's back. */
enum dir { C2P, P2C };
static const uint16_t old_tag[] = {PEER_PORT, CHANNEL};
#define NEW_TAG(d) ((uint16_t)(old_tag[d] + 1))
#define ATTEMPTS 20 /* runs that took longer than a copy lives prove nothing: tried again */

/* The clock the program reads (bpf_ktime_get_coarse_ns). */
static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cache_group_setup(void **state)
{
	int cpu = sched_getcpu();
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one)) {
		perror("sched_setaffinity");
		return -1;
	}
	return group_setup(state);
}

/* Writes tag into the hash entry of n's channel in direction d, without fastpath_cache_flush. */
static void rewrite(struct fx *fx, const struct net *n, enum dir d, uint16_t tag)
{
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct nts_fp_client_key ck = fp_client_key(n, CLIENT_PORT);
	struct nts_fp_peer_key pk = fp_peer_key(n, n->peer, RELAY_PORT, PEER_PORT);
	struct nts_fp_client_val cv;
	struct nts_fp_peer_val pv;

	if (d == C2P) {
		assert_int_equal(bpf_map_lookup_elem(f->client, &ck, &cv), 0);
		cv.peer_port = tag;
		assert_int_equal(bpf_map_update_elem(f->client, &ck, &cv, BPF_EXIST), 0);
	} else {
		assert_int_equal(bpf_map_lookup_elem(f->peer, &pk, &pv), 0);
		pv.channel = tag;
		assert_int_equal(bpf_map_update_elem(f->peer, &pk, &pv, BPF_EXIST), 0);
	}
}

/* Relays one frame of n's channel in direction d: the tag of where it went. */
static uint16_t relay(struct fx *fx, const struct net *n, enum dir d)
{
	struct fp_spec s = {0};
	struct fp_frame in, out;
	const uint8_t *udp;

	if (d == C2P)
		client_frame(&in, n, CHANNEL, 0, &s);
	else
		peer_frame(&in, n, n->peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	udp = out.buf + 14 + (n->v6 ? 40 : 20);
	return d == C2P ? (uint16_t)(udp[2] << 8 | udp[3]) : (uint16_t)(udp[8] << 8 | udp[9]);
}

/* A frame fills the copy; an entry rewritten behind the epoch's back is not seen until
 * fastpath_cache_flush. Only a fill and check within NTS_FP_CACHE_TTL_NS on the program's clock
 * prove the copy served: a slower pair (a loaded machine) is tried again. */
static void copy_serves_until_flush(struct fx *fx, const struct net *n, enum dir d)
{
	uint16_t got = 0;
	uint64_t t0;
	int i;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	for (i = 0; i < ATTEMPTS; i++) {
		rewrite(fx, n, d, old_tag[d]);
		fastpath_cache_flush(fx->fp);
		t0 = coarse_ns();
		assert_int_equal(relay(fx, n, d), old_tag[d]);
		rewrite(fx, n, d, NEW_TAG(d));
		got = relay(fx, n, d);
		if (coarse_ns() - t0 < NTS_FP_CACHE_TTL_NS)
			break;
	}
	assert_true(i < ATTEMPTS);
	assert_int_equal(got, old_tag[d]);
	fastpath_cache_flush(fx->fp);
	assert_int_equal(relay(fx, n, d), NEW_TAG(d));
}

static void test_ipv4_copies_serve_until_cache_flush(void **state)
{
	copy_serves_until_flush(*state, &net4, C2P);
	copy_serves_until_flush(*state, &net4, P2C);
}

static void test_ipv6_copies_serve_until_cache_flush(void **state)
{
	copy_serves_until_flush(*state, &net6, C2P);
	copy_serves_until_flush(*state, &net6, P2C);
}

/* ntsd rebinding a channel (fastpath_channel_set) retires the copies by itself: the next frame
 * goes where the new entry says, to another peer port or on another channel. */
static void test_handle_rewrite_is_seen_by_the_next_frame(void **state)
{
	struct fx *fx = *state;
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, PEER_PORT),
			p2 = addr(net4.peer, PEER_PORT + 1);

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(relay(fx, &net4, C2P), PEER_PORT);
	assert_int_equal(relay(fx, &net4, P2C), CHANNEL);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC, &c, &s, &r, &p2, CHANNEL, now_ns() + FAR), 0);
	assert_int_equal(relay(fx, &net4, C2P), PEER_PORT + 1);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC, &c, &s, &r, &p, CHANNEL + 1, now_ns() + FAR), 0);
	assert_int_equal(relay(fx, &net4, P2C), CHANNEL + 1);
}

/* Without a flush, a copy serves NTS_FP_CACHE_TTL_NS at most: the rewritten entry is seen within
 * a bounded wait, and no sooner than that age after the fill (the copy did serve until then). */
static void copy_ages_out(struct fx *fx, const struct net *n, enum dir d)
{
	const struct timespec step = {0, 2000000};
	uint64_t t0, start;
	uint16_t got = 0;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	t0 = coarse_ns();
	assert_int_equal(relay(fx, n, d), old_tag[d]);
	rewrite(fx, n, d, NEW_TAG(d));
	start = now_ns();
	for (int i = 0; i < 100 && now_ns() - start < 200000000ull; i++) {
		got = relay(fx, n, d);
		if (got == NEW_TAG(d))
			break;
		nanosleep(&step, NULL);
	}
	assert_int_equal(got, NEW_TAG(d));
	assert_true(coarse_ns() - t0 >= NTS_FP_CACHE_TTL_NS);
}

static void test_ipv4_copy_serves_no_longer_than_its_age_bound(void **state)
{
	copy_ages_out(*state, &net4, C2P);
	copy_ages_out(*state, &net4, P2C);
}

static void test_ipv6_copy_serves_no_longer_than_its_age_bound(void **state)
{
	copy_ages_out(*state, &net6, C2P);
	copy_ages_out(*state, &net6, P2C);
}

/* A deleted channel (RFC 8656 §12) is not relayed from the copies its frames filled: the client's
 * ChannelData goes to userspace unmatched, the peer's datagram with its permission. */
static void deleted_channel_not_relayed(struct fx *fx, const struct net *n)
{
	struct nts_addr c = addr(n->client, CLIENT_PORT), s = addr(n->server, SERVER_PORT),
			r = addr(n->server, RELAY_PORT), p = addr(n->peer, PEER_PORT);
	struct fp_spec sp = {0};
	struct nts_fp_stats st;
	struct fp_frame in;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	assert_int_equal(relay(fx, n, C2P), PEER_PORT);
	assert_int_equal(relay(fx, n, P2C), CHANNEL);
	fastpath_channel_del(fx->fp, ALLOC, &c, &s, &r, &p, CHANNEL);
	client_frame(&in, n, CHANNEL, 0, &sp);
	assert_passed(fx, &in);
	sp = (struct fp_spec){0};
	peer_frame(&in, n, n->peer, &sp);
	assert_passed(fx, &in);
	st = stats(fx);
	assert_int_equal(st.pass_no_match, 1);
	assert_int_equal(st.pass_permission, 1);
	assert_int_equal(st.c2p_packets, 1);
	assert_int_equal(st.p2c_packets, 1);
}

static void test_ipv4_deleted_channel_is_not_relayed_from_a_copy(void **state)
{
	deleted_channel_not_relayed(*state, &net4);
}

static void test_ipv6_deleted_channel_is_not_relayed_from_a_copy(void **state)
{
	deleted_channel_not_relayed(*state, &net6);
}

/* A channel of its own allocation, relay port and peer port, with its own payload. */
struct flow {
	uint64_t id;
	uint16_t cport, rport, pport;
	const char *payload;
};

static void flow_bind(struct fx *fx, const struct net *n, const struct flow *w)
{
	struct nts_addr c = addr(n->client, w->cport), s = addr(n->server, SERVER_PORT),
			r = addr(n->server, w->rport), p = addr(n->peer, w->pport);

	assert_int_equal(
	    fastpath_channel_set(fx->fp, w->id, &c, &s, &r, &p, CHANNEL, now_ns() + FAR), 0);
}

/* One frame of w each way, checked to reach w's own peer and client with w's payload. */
static void flow_relay(struct fx *fx, const struct net *n, const struct flow *w)
{
	const uint8_t *pl = (const uint8_t *)w->payload;
	size_t len = strlen(w->payload), cdlen;
	uint8_t cd[256];
	struct fp_spec s = {.v6 = n->v6,
			    .src = n->client,
			    .dst = n->server,
			    .sport = w->cport,
			    .dport = SERVER_PORT};
	struct fp_frame in, out;

	cdlen = fp_channeldata(cd, CHANNEL, pl, len, 0);
	s.payload = cd;
	s.payload_len = cdlen;
	fp_build(&in, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, n->v6, n->server, n->peer, w->rport, w->pport, pl, len, PEER_MAC, 0, false);
	s = (struct fp_spec){.v6 = n->v6,
			     .src = n->peer,
			     .dst = n->server,
			     .sport = w->pport,
			     .dport = w->rport,
			     .payload = pl,
			     .payload_len = len};
	fp_build(&in, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, n->v6, n->server, n->client, SERVER_PORT, w->cport, cd, cdlen, CLIENT_MAC,
		  0, false);
}

/* Whether some CPU's copy in slot slot of the per-CPU cache map fd holds key (klen bytes): the
 * program keys its copies by nts_fp_cache_slot(), as ntsd and this test compute it. */
static bool cached_in_slot(int fd, uint32_t slot, const void *key, size_t klen)
{
	int ncpus = libbpf_num_possible_cpus();
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	bool found = false;
	size_t stride;
	uint8_t *v;

	assert_true(ncpus > 0);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	stride = (info.value_size + 7) & ~7u; /* each CPU's copy, 8-byte aligned */
	v = calloc((size_t)ncpus, stride);
	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, v), 0);
	for (int i = 0; i < ncpus; i++) {
		const uint8_t *e = v + (size_t)i * stride;

		found |= memcmp(e + offsetof(struct nts_fp_client_cached, key), key, klen) == 0;
	}
	free(v);
	return found;
}

/* Two channels whose client keys share a cache slot, and whose peer keys do: alternating frames
 * take turns in the slots, and each goes where its own entry says, never where the other's does. */
static void colliding_keys(struct fx *fx, const struct net *n)
{
	struct flow a = {ALLOC, CLIENT_PORT, RELAY_PORT, PEER_PORT, "flow A"};
	struct flow b = {ALLOC + 1, 0, RELAY_PORT + 1, 0, "flow B, another length"};
	struct nts_fp_client_key ka = fp_client_key(n, a.cport), kb;
	struct nts_fp_peer_key pa = fp_peer_key(n, n->peer, a.rport, a.pport), pb;
	const uint32_t cslot = nts_fp_cache_slot((const __u32 *)&ka, sizeof(ka) / 4),
		       pslot = nts_fp_cache_slot((const __u32 *)&pa, sizeof(pa) / 4);

	for (uint16_t port = CLIENT_PORT + 1; !b.cport && port < CLIENT_PORT + 20000; port++) {
		kb = fp_client_key(n, port);
		if (nts_fp_cache_slot((const __u32 *)&kb, sizeof(kb) / 4) == cslot)
			b.cport = port;
	}
	for (uint16_t port = PEER_PORT + 1; !b.pport && port < PEER_PORT + 5000; port++) {
		pb = fp_peer_key(n, n->peer, b.rport, port);
		if (nts_fp_cache_slot((const __u32 *)&pb, sizeof(pb) / 4) == pslot)
			b.pport = port;
	}
	assert_int_not_equal(b.cport, 0);
	assert_int_not_equal(b.pport, 0);
	flow_bind(fx, n, &a);
	flow_bind(fx, n, &b);
	for (int i = 0; i < 4; i++) {
		flow_relay(fx, n, &a);
		flow_relay(fx, n, &b);
	}
	assert_int_equal(stats(fx).c2p_packets, 8);
	assert_int_equal(stats(fx).p2c_packets, 8);
	/* The last frames of each direction were b's: their copies are in the slots computed. */
	assert_true(cached_in_slot(bpf_map__fd(fx->skel->maps.nts_fp_client_cache), cslot, &kb,
				   sizeof(kb)));
	assert_true(cached_in_slot(bpf_map__fd(fx->skel->maps.nts_fp_peer_cache), pslot, &pb,
				   sizeof(pb)));
}

static void test_ipv4_keys_sharing_a_slot_each_get_their_own_entry(void **state)
{
	colliding_keys(*state, &net4);
}

static void test_ipv6_keys_sharing_a_slot_each_get_their_own_entry(void **state)
{
	colliding_keys(*state, &net6);
}

static uint64_t epoch_of(int fd)
{
	uint32_t zero = 0;
	uint64_t v;

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &v), 0);
	return v;
}

/* The maps test_pinned_epoch_moves_and_is_optional pins, nts_fp_epoch last. */
static const char *const pin_names[] = {NTS_FP_MAP_CLIENT, NTS_FP_MAP_PEER,  NTS_FP_MAP_PERM,
					NTS_FP_MAP_RELAY,  NTS_FP_MAP_ALLOC, NTS_FP_MAP_STATS,
					NTS_FP_MAP_TX,	   NTS_FP_MAP_EPOCH};
#define NPINS (sizeof(pin_names) / sizeof(pin_names[0]))

/* Under this process's own pin dir on bpffs: name, or the dir itself when name is NULL. */
static void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/sys/fs/bpf/nts-test-cache-%d%s%s", (int)getpid(), name ? "/" : "",
		 name ? name : "");
}

/* Removes the pins whatever assertion ended the test. */
static int pins_teardown(void **state)
{
	char path[128];

	for (size_t i = 0; i < NPINS; i++) {
		pin_path(path, sizeof(path), pin_names[i]);
		unlink(path);
	}
	pin_path(path, sizeof(path), NULL);
	rmdir(path);
	return 0;
}

/* A handle over pinned maps (ntsd's) moves the pinned nts_fp_epoch with its channel writes and
 * deletes; over pins an older ntsctl made (no nts_fp_epoch) it opens and writes channels all the
 * same, without caches to retire. */
static void test_pinned_epoch_moves_and_is_optional(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	const int fds[NPINS] = {f->client, f->peer,  f->perm, f->relay,
				f->alloc,  f->stats, f->tx,   f->epoch};
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, PEER_PORT);
	struct nts_fp_client_key ck = fp_client_key(&net4, CLIENT_PORT);
	struct nts_fp_client_val cv;
	char dir[128], path[128];
	struct fastpath *fp2;
	uint64_t e;

	pin_path(dir, sizeof(dir), NULL);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (size_t i = 0; i < NPINS; i++) {
		pin_path(path, sizeof(path), pin_names[i]);
		assert_int_equal(bpf_obj_pin(fds[i], path), 0);
	}
	e = epoch_of(f->epoch);
	assert_int_equal(fastpath_open_gen(dir, 0, &fp2), 0);
	assert_int_equal(fastpath_channel_set(fp2, ALLOC, &c, &s, &r, &p, CHANNEL, now_ns() + FAR),
			 0);
	assert_true(epoch_of(f->epoch) > e);
	e = epoch_of(f->epoch);
	fastpath_channel_del(fp2, ALLOC, &c, &s, &r, &p, CHANNEL);
	assert_true(epoch_of(f->epoch) > e);
	assert_int_not_equal(bpf_map_lookup_elem(f->client, &ck, &cv), 0);
	fastpath_close(fp2);
	/* Without the pin (path: nts_fp_epoch's, the last pinned). */
	assert_int_equal(unlink(path), 0);
	e = epoch_of(f->epoch);
	assert_int_equal(fastpath_open_gen(dir, 0, &fp2), 0);
	assert_int_equal(fastpath_fds(fp2)->epoch, -1);
	assert_int_equal(fastpath_channel_set(fp2, ALLOC, &c, &s, &r, &p, CHANNEL, now_ns() + FAR),
			 0);
	assert_int_equal(bpf_map_lookup_elem(f->client, &ck, &cv), 0);
	assert_int_equal(epoch_of(f->epoch), e);
	fastpath_close(fp2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_ipv4_copies_serve_until_cache_flush),
	    T(test_ipv6_copies_serve_until_cache_flush),
	    T(test_handle_rewrite_is_seen_by_the_next_frame),
	    T(test_ipv4_copy_serves_no_longer_than_its_age_bound),
	    T(test_ipv6_copy_serves_no_longer_than_its_age_bound),
	    T(test_ipv4_deleted_channel_is_not_relayed_from_a_copy),
	    T(test_ipv6_deleted_channel_is_not_relayed_from_a_copy),
	    T(test_ipv4_keys_sharing_a_slot_each_get_their_own_entry),
	    T(test_ipv6_keys_sharing_a_slot_each_get_their_own_entry),
	    cmocka_unit_test_setup_teardown(test_pinned_epoch_moves_and_is_optional, setup,
					    pins_teardown),
#undef T
	};

	return cmocka_run_group_tests(tests, cache_group_setup, group_teardown);
}
