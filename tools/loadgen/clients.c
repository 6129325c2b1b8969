/* `nts-loadgen clients`: many TURN clients in userspace, each an allocation on its own UDP socket,
 * TCP connection or TLS connection (--transport), sending ChannelData client -> peer; the XDP sink
 * on the peer veth counts the correctly relayed datagrams (the relay -> peer leg is UDP whatever
 * the client's transport). The highest rate delivered without loss (UDP: a rate search for < 0.1%
 * loss; TCP and TLS: flat-out throughput, see lg_clients_search), then CPU per packet and latency
 * at a fixed rate, like `nts-loadgen xdp` with a userspace sender. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "stun/stun.h"
#include "xdp.h"

#define LG_SETTLE_NS 60000000ull /* in-flight packets reach the sink within this after sending */
#define LG_LOSS_OK 0.001
#define LG_USER_HZ 100.0
#define LG_MAX_BATCH 64

struct lg_clients {
	const struct lg_opts *o;
	struct lg_session *s;
	struct pollfd *pfd;
	unsigned n, batch, next_flow;
	struct lg_dev pdev;
	int stats_fd, hist_fd, ncpus;
	size_t flen; /* ChannelData frame length on the client transport */
	uint64_t seq;
	struct bench_hist hist;
	struct lg_cpu_tasks tasks;
	uint8_t buf[LG_MAX_BATCH * 1408];
};

/* One sending run and what the sink and the CPU counters saw. */
struct lg_crun {
	double rate, secs;
	uint64_t offered, sent, pkts, bad, busy, total, task_ns, relay_ns;
	uint64_t window_pkts; /* delivered while sending */
	uint64_t wakeups;     /* the relay threads' (lg_cpu_tasks_relay_slices) */
};

/* Lays out the frames of a batch once: payload pattern (the sink checks the payload's last bytes
 * against bench_pattern with sequence 0, as for the in-kernel generator's frames) and padding. */
static void lg_clients_frames(struct lg_clients *c)
{
	for (unsigned i = 0; i < c->batch; i++) {
		uint8_t *p = c->buf + i * c->flen;

		memset(p, 0, c->flen);
		for (unsigned b = BENCH_HDR_LEN; b < c->o->size; b++)
			p[STUN_CHANNELDATA_HDR + b] = bench_pattern(b, 0);
	}
}

/* Sends k frames of the next flow in one write (k datagrams over UDP): each gets the flow's
 * ChannelData header and the payload header. Frames taken: 0 when the flow's stream is still
 * writing an earlier batch (the next flow gets the next batch). */
static unsigned lg_clients_batch(struct lg_clients *c, unsigned k)
{
	const struct lg_opts *o = c->o;
	unsigned f = c->next_flow++ % c->n;
	struct lg_session *s = &c->s[f];
	bool stream = s->stream != NULL;
	int r;

	for (unsigned i = 0; i < k; i++) {
		uint8_t *p = c->buf + i * c->flen;
		struct bench_hdr h = {BENCH_MAGIC_KERNEL, f, c->seq + i, lg_now_ns()};

		stun_channeldata_header(p, s->channel, (uint16_t)o->size, stream);
		memcpy(p + STUN_CHANNELDATA_HDR, &h, sizeof(h));
	}
	r = lg_transport_offer(s, c->buf, c->flen, k);
	if (r <= 0)
		return 0;
	c->seq += k;
	return k;
}

/* Waits (up to 1 ms) until some stream can take more. */
static void lg_clients_wait_room(struct lg_clients *c)
{
	for (unsigned i = 0; i < c->n; i++)
		c->pfd[i] = (struct pollfd){.fd = c->s[i].fd, .events = POLLOUT};
	poll(c->pfd, c->n, 1);
}

/* Paced (rate > 0) or flat-out sending for secs. Paced: offered is what was due at the rate, and
 * a batch a full stream did not take is offered again to the next flow. Flat out: offered is what
 * the transports took. */
static void lg_clients_send(struct lg_clients *c, double rate, double secs, struct lg_crun *r)
{
	uint64_t start = lg_now_ns(), end = start + (uint64_t)(secs * 1e9), due = 0;
	uint64_t now;

	while ((now = lg_now_ns()) < end) {
		unsigned refused = 0;

		if (rate > 0)
			due = (uint64_t)((double)(now - start) * rate / 1e9);
		else
			due = r->sent + (uint64_t)c->batch * c->n;
		while (r->sent < due && refused < c->n && lg_now_ns() < end) {
			uint64_t k = due - r->sent < c->batch ? due - r->sent : c->batch;
			unsigned took = lg_clients_batch(c, (unsigned)k);

			r->sent += took;
			refused = took ? 0 : refused + 1;
		}
		if (rate > 0)
			lg_sleep_until(lg_now_ns() + 1000000);
		else if (refused >= c->n)
			lg_clients_wait_room(c);
	}
	r->offered = rate > 0 ? due : r->sent;
}

/* After sending: every stream's unwritten tail goes out (bounded: 1 s), then the sink is read
 * until it stops counting (streams: nothing is lost, only late; bounded: 2 s) or, over UDP, once
 * after LG_SETTLE_NS. */
static int lg_clients_settle(struct lg_clients *c, struct bench_sink_stats *b)
{
	uint64_t end = lg_now_ns() + 1000000000ull, last = UINT64_MAX;
	bool stream = lg_transport_stream(c->o);

	for (unsigned i = 0, left = c->n; stream && left && lg_now_ns() < end;) {
		left = 0;
		for (i = 0; i < c->n; i++)
			left += lg_transport_flush(&c->s[i]) == -EAGAIN;
		if (left)
			lg_clients_wait_room(c);
	}
	lg_sleep_until(lg_now_ns() + LG_SETTLE_NS);
	end = lg_now_ns() + 2000000000ull;
	for (;;) {
		if (lg_sink_sum(c->stats_fd, c->ncpus, b))
			return -EIO;
		if (!stream || b->pkts == last || lg_now_ns() >= end)
			return 0;
		last = b->pkts;
		lg_sleep_until(lg_now_ns() + 20000000ull);
	}
}

static int lg_clients_run(struct lg_clients *c, double rate, double secs, struct lg_crun *r)
{
	struct bench_sink_stats a, w, b;
	uint64_t busy0, total0, start, task0, relay0;
	uint32_t key = 0;

	memset(r, 0, sizeof(*r));
	memset(&c->hist, 0, sizeof(c->hist));
	if (bpf_map_update_elem(c->hist_fd, &key, &c->hist, BPF_ANY) ||
	    lg_sink_sum(c->stats_fd, c->ncpus, &a) || lg_cpu_sample(&busy0, &total0))
		return -EIO;
	task0 = lg_cpu_tasks_ns(&c->tasks, &relay0);
	r->wakeups = lg_cpu_tasks_relay_slices(&c->tasks);
	start = lg_now_ns();
	lg_clients_send(c, rate, secs, r);
	r->secs = (double)(lg_now_ns() - start) / 1e9;
	r->rate = (double)r->offered / r->secs;
	if (lg_sink_sum(c->stats_fd, c->ncpus, &w) || lg_cpu_sample(&r->busy, &r->total))
		return -EIO;
	r->task_ns = lg_cpu_tasks_ns(&c->tasks, &r->relay_ns) - task0;
	r->relay_ns -= relay0;
	r->wakeups = lg_cpu_tasks_relay_slices(&c->tasks) - r->wakeups;
	r->busy -= busy0, r->total -= total0;
	r->window_pkts = w.pkts - a.pkts;
	if (lg_clients_settle(c, &b) || bpf_map_lookup_elem(c->hist_fd, &key, &c->hist))
		return -EIO;
	r->pkts = b.pkts - a.pkts;
	r->bad = b.bad - a.bad;
	return 0;
}

/* Loss against what was offered (paced: due at the rate, so a sender held back by full streams
 * counts as loss). */
static double lg_closs(const struct lg_crun *r)
{
	return r->offered ? 1.0 - (double)(r->pkts < r->offered ? r->pkts : r->offered) / r->offered
			  : 1.0;
}

/* UDP: the highest delivered rate with loss < 0.1%, from a flat-out probe and bisection (at most
 * 10 steps). TCP and TLS push back: the rate is what the sink counted while a flat-out sender
 * wrote as fast as the streams took, the best of LG_STREAM_STEPS steps (other jobs on the machine
 * can only lower it) with loss < 0.1%. The relay's UDP leg may still drop when the relay reads the
 * streams faster than its sockets toward the peer drain (user/turn/relay.c drops, as a router
 * would): if no step is lossless, the step with the least loss is taken, and the record says how
 * much (max_loss). *best gets the step the rate comes from (its CPU figures). */
#define LG_STREAM_STEPS 3
static double lg_clients_search(struct lg_clients *c, struct lg_crun *flat, struct lg_crun *best,
				char *log, size_t cap)
{
	const struct lg_opts *o = c->o;
	double lo = 0, hi, top = 0, step = o->search_step;
	struct lg_crun r;
	size_t used = 0;

	if (lg_transport_stream(o)) {
		struct lg_crun least = {0};

		for (int i = 0; i < LG_STREAM_STEPS; i++) {
			if (lg_clients_run(c, 0, step, &r))
				return -1;
			if (used < cap)
				used += (size_t)snprintf(log + used, cap - used, "%sflat:%.0f/%.4f",
							 i ? " " : "", r.window_pkts / r.secs,
							 lg_closs(&r));
			if (!i)
				*flat = r;
			if (lg_closs(&r) < LG_LOSS_OK && r.window_pkts / r.secs > top) {
				top = r.window_pkts / r.secs;
				*best = r;
			}
			if (!i || lg_closs(&r) < lg_closs(&least))
				least = r;
		}
		if (top == 0 && least.window_pkts && least.pkts) {
			top = least.window_pkts / least.secs;
			*best = least;
		}
		return top;
	}
	if (lg_clients_run(c, 0, step, flat))
		return -1;
	used += (size_t)snprintf(log, cap, "flat:%.0f/%.4f", flat->rate, lg_closs(flat));
	if (lg_closs(flat) < LG_LOSS_OK) {
		*best = *flat;
		return (double)flat->pkts / flat->secs; /* the sender, not the path, is the limit */
	}
	hi = flat->rate < o->max_rate ? flat->rate : o->max_rate;
	double rate = (double)flat->pkts / flat->secs * 0.95;

	for (int i = 0; i < 10 && rate >= 1000; i++) {
		if (lg_clients_run(c, rate, step, &r))
			return -1;
		if (used < cap)
			used += (size_t)snprintf(log + used, cap - used, " %.0f/%.4f", rate,
						 lg_closs(&r));
		if (lg_closs(&r) < LG_LOSS_OK) {
			lo = rate;
			if ((double)r.pkts / r.secs > top) {
				top = (double)r.pkts / r.secs;
				*best = r;
			}
		} else {
			hi = rate;
		}
		if (lo > 0 && hi - lo < hi * 0.03)
			break;
		rate = lo > 0 ? (lo + hi) / 2 : hi / 4;
	}
	return top;
}

/* CPU figures of run r under prefix pfx, per packet delivered while the CPU was counted: whole
 * path and relay process per packet, /proc/stat, the relay's packets per wake-up, and the cores
 * the path, the relay and the whole machine kept busy (run time / wall time). */
static void lg_clients_cpu_json(struct lg_json *j, const char *pfx, const struct lg_crun *r)
{
	double pkts = (double)r->window_pkts;
	char k[64];

#define LG_K(name) (snprintf(k, sizeof(k), "%s%s", pfx, name), k)
	lg_json_num(j, LG_K("cpu_ns_per_pkt"), pkts ? (double)r->task_ns / pkts : -1);
	lg_json_num(j, LG_K("cpu_relay_process_ns_per_pkt"),
		    pkts ? (double)r->relay_ns / pkts : -1);
	lg_json_num(j, LG_K("cpu_stat_ns_per_pkt"),
		    pkts ? (double)r->busy * (1e9 / LG_USER_HZ) / pkts : -1);
	lg_json_num(j, LG_K("relay_pkts_per_wakeup"), r->wakeups ? pkts / (double)r->wakeups : -1);
	lg_json_num(j, LG_K("path_cores"), r->secs > 0 ? (double)r->task_ns / 1e9 / r->secs : -1);
	lg_json_num(j, LG_K("relay_cores"), r->secs > 0 ? (double)r->relay_ns / 1e9 / r->secs : -1);
	lg_json_num(j, LG_K("busy_cores"),
		    r->total ? (double)r->busy / (double)r->total * sysconf(_SC_NPROCESSORS_ONLN)
			     : -1);
#undef LG_K
}

static void lg_clients_report(struct lg_clients *c, double maxpps, const struct lg_crun *flat,
			      const struct lg_crun *best, const char *log, const struct lg_crun *fr)
{
	const struct lg_opts *o = c->o;
	struct lg_json j;

	lg_json_begin(&j);
	lg_json_str(&j, "test", "clients");
	lg_json_str(&j, "transport", o->transport);
	lg_json_num(&j, "allocs", c->n);
	lg_json_num(&j, "client_ips", o->client_ips);
	lg_json_num(&j, "size", o->size);
	lg_json_num(&j, "batch", c->batch);
	if (o->search_step > 0) {
		lg_json_num(&j, "flat_offered_pps", flat->rate);
		lg_json_num(&j, "flat_delivered_pps", (double)flat->pkts / flat->secs);
		lg_json_num(&j, "max_pps", maxpps);
		lg_json_str(&j, "search", log);
		if (maxpps > 0) {
			lg_json_num(&j, "max_loss", lg_closs(best));
			lg_clients_cpu_json(&j, "max_", best);
		}
	}
	if (fr) {
		lg_json_num(&j, "fixed_rate", o->rate);
		lg_json_num(&j, "fixed_offered_pps", fr->rate);
		lg_json_num(&j, "fixed_sent", (double)fr->sent);
		lg_json_num(&j, "fixed_delivered", (double)fr->pkts);
		lg_json_num(&j, "fixed_loss", lg_closs(fr));
		lg_json_num(&j, "fixed_bad", (double)fr->bad);
		lg_clients_cpu_json(&j, "", fr);
		lg_json_num(&j, "lat_p50_us", lg_hist_pct(&c->hist, 0.5));
		lg_json_num(&j, "lat_p99_us", lg_hist_pct(&c->hist, 0.99));
		lg_json_num(&j, "lat_p999_us", lg_hist_pct(&c->hist, 0.999));
	}
	lg_json_end(&j);
}

/* Loads the sink and attaches it to the peer veth, set for the relayed datagrams of the sessions.
 */
static struct bpf_object *lg_clients_attach(struct lg_clients *c, const char *dir)
{
	const struct lg_opts *o = c->o;
	struct bench_sink_cfg sc = {
	    .dst_ip = o->peer.sin_addr.s_addr,
	    .src_ip = c->s[0].relay.sin_addr.s_addr,
	    .port_lo = ntohs(o->peer.sin_port),
	    .port_hi = (uint16_t)(ntohs(o->peer.sin_port) + c->n - 1),
	    .payload_len = (uint16_t)o->size,
	};
	uint32_t key = 0;
	int fd;
	struct bpf_object *sink = lg_bpf_load(dir, "bench_sink", &fd);

	if (!sink)
		return NULL;
	c->stats_fd = lg_map_fd(sink, "bench_sink_stats");
	c->hist_fd = lg_map_fd(sink, "bench_sink_hist");
	if (bpf_map_update_elem(lg_map_fd(sink, "bench_sink_cfg"), &key, &sc, BPF_ANY) ||
	    lg_xdp_attach(&c->pdev, fd)) {
		bpf_object__close(sink);
		return NULL;
	}
	return sink;
}

int lg_cmd_clients(const struct lg_opts *o)
{
	struct lg_clients *c = calloc(1, sizeof(*c));
	struct bpf_object *sink = NULL;
	struct lg_crun flat = {0}, best = {0}, fr;
	double maxpps = 0;
	char dir[512], log[1024] = "";
	int rc = -1, e;

	if (!c)
		return -ENOMEM;
	c->o = o;
	c->n = o->allocs;
	c->batch = o->batch < LG_MAX_BATCH ? o->batch : LG_MAX_BATCH;
	c->flen = stun_channeldata_frame_len((uint16_t)o->size, lg_transport_stream(o));
	if (o->bpf_dir) {
		snprintf(dir, sizeof(dir), "%s", o->bpf_dir);
	} else { /* build/bpf next to build/nts-loadgen */
		ssize_t len = readlink("/proc/self/exe", dir, sizeof(dir) - 8);
		char *slash;

		dir[len > 0 ? len : 0] = 0;
		slash = strrchr(dir, '/');
		snprintf(slash ? slash + 1 : dir, 8, "bpf");
	}
	lg_cpu_tasks_init(&c->tasks, o->cpu_pids);
	if (!getenv("NTS_LOADGEN_DEBUG"))
		libbpf_set_print(NULL);
	c->ncpus = libbpf_num_possible_cpus();
	c->s = calloc(c->n, sizeof(*c->s));
	c->pfd = calloc(c->n, sizeof(*c->pfd));
	if (!c->s || !c->pfd || c->ncpus < 1)
		goto out;
	if (lg_dev_info(o->peer_ns, o->peer_dev, &c->pdev)) {
		fprintf(stderr, "nts-loadgen: need --peer-dev\n");
		goto out;
	}
	if ((e = lg_netns_enter(o->client_ns)) < 0 || (e = lg_sessions_open(c->s, c->n, o)) < 0) {
		fprintf(stderr, "nts-loadgen: cannot open %u %s clients: %s\n", c->n, o->transport,
			strerror(-e));
		goto out;
	}
	if (lg_sessions_setup(c->s, c->n, o, lg_now_ns() + 20000000000ull) < c->n) {
		for (unsigned i = 0; i < c->n; i++)
			if (c->s[i].state != LG_DONE) {
				fprintf(stderr,
					"nts-loadgen: allocation %u failed in state %d: response "
					"0x%04x, error %d\n",
					i, c->s[i].fail_state, c->s[i].fail_type, c->s[i].error);
				break;
			}
		goto out;
	}
	lg_clients_frames(c);
	sink = lg_clients_attach(c, dir);
	if (!sink || lg_netns_enter(o->client_ns))
		goto out;
	if (o->search_step > 0)
		maxpps = lg_clients_search(c, &flat, &best, log, sizeof(log));
	if (maxpps < 0 || (o->rate > 0 && lg_clients_run(c, o->rate, o->duration, &fr)))
		goto out;
	lg_clients_report(c, maxpps, &flat, &best, log, o->rate > 0 ? &fr : NULL);
	rc = 0;
out:
	if (sink) {
		lg_xdp_detach(&c->pdev);
		lg_netns_enter(o->client_ns);
	}
	if (c->s)
		lg_sessions_close(c->s, c->n, o);
	bpf_object__close(sink);
	free(c->s);
	free(c->pfd);
	free(c);
	return rc;
}
