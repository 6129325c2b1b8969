/* `nts-loadgen xdp`: crafted ChannelData (or plain UDP for the routed baseline) sent from the
 * client veth by BPF_PROG_RUN in live-frames mode, counted by the XDP sink on the peer veth.
 * Searches the highest offered rate delivered with < 0.1% loss, then measures CPU per packet and
 * latency at a fixed rate. Modes: turn (through the relay under test), routed (server forwards),
 * ceiling (bench XDP). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "stun/stun.h"
#include "xdp.h"

#define LG_SETTLE_NS 60000000ull /* in-flight packets reach the sink within this after sending */
#define LG_LOSS_OK 0.001
#define LG_USER_HZ 100.0

struct lg_xdp {
	const struct lg_opts *o;
	struct lg_dev cdev, sdev, odev, pdev;
	int gen_fd, gen_cfg_fd, gen_state_fd, gen_tmpl_fd, stats_fd, hist_fd, ncpus;
	unsigned nflows, hdr_off;
	int *tx_fd;
	uint8_t (*frames)[1536];
	size_t *lens;
	struct bench_hist hist;
	struct lg_cpu_tasks tasks;
	uint8_t txbuf[32][1500]; /* userspace sender */
};

/* One paced (or flat-out) sending run and what the sink saw. */
struct lg_run {
	double rate, secs;
	uint64_t sent, pkts, bad, busy, total, task_ns, relay_ns;
};

static void lg_alarm(int sig)
{
	(void)sig; /* only interrupts BPF_PROG_RUN */
}

/* In-kernel generator at rate (0: flat out) for secs: one BPF_PROG_RUN call with a huge repeat
 * count, interrupted by a timer signal (the kernel checks for signals between batches). */
static int lg_gen_live(struct lg_xdp *x, double rate, double secs, uint64_t *sent)
{
	struct xdp_md ctx = {.data_end = (uint32_t)x->lens[0],
			     .ingress_ifindex = (uint32_t)x->cdev.ifindex};
	struct bpf_test_run_opts t = {.sz = sizeof(t),
				      .data_in = x->frames[0],
				      .data_size_in = (uint32_t)x->lens[0],
				      .ctx_in = &ctx,
				      .ctx_size_in = sizeof(ctx),
				      .repeat = 1 << 30,
				      .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
				      .batch_size = 64};
	struct bench_gen_cfg gc = {.hdr_off = x->hdr_off,
				   .nflows = x->nflows,
				   .interval_ns = rate > 0 ? (uint64_t)(1e9 / rate) : 0};
	struct bench_gen_state st = {0};
	struct sigaction sa = {.sa_handler = lg_alarm};
	struct itimerval it = {.it_value = {.tv_sec = (time_t)secs,
					    .tv_usec = (suseconds_t)((secs - (time_t)secs) * 1e6)}};
	uint32_t key = 0;
	int r;

	st.next_ns = lg_now_ns();
	if (bpf_map_update_elem(x->gen_cfg_fd, &key, &gc, BPF_ANY) ||
	    bpf_map_update_elem(x->gen_state_fd, &key, &st, BPF_ANY))
		return -errno;
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: the syscall must return */
	setitimer(ITIMER_REAL, &it, NULL);
	r = bpf_prog_test_run_opts(x->gen_fd, &t);
	if (r && errno != EINTR) {
		fprintf(stderr, "nts-loadgen: BPF_PROG_RUN live frames: %s\n", strerror(errno));
		return -errno;
	}
	if (bpf_map_lookup_elem(x->gen_state_fd, &key, &st))
		return -errno;
	*sent = st.sent;
	return 0;
}

/* Userspace sender at a fixed rate (sendmmsg on one socket per flow): pacing in userspace keeps the
 * CPU idle between sends, so /proc/stat counts only the work the packets cause. */
static int lg_gen_user(struct lg_xdp *x, double rate, double secs, uint64_t *sent)
{
	uint8_t(*bufs)[1500] = x->txbuf;
	struct mmsghdr mm[32];
	struct iovec iov[32];
	uint64_t start = lg_now_ns(), end = start + (uint64_t)(secs * 1e9), seq = 0;
	unsigned pl = x->hdr_off - 42, len = (unsigned)x->lens[0] - 42; /* UDP payload */

	for (int i = 0; i < 32; i++)
		memcpy(bufs[i], x->frames[0] + 42, len);
	while (lg_now_ns() < end) {
		uint64_t due = (uint64_t)((double)(lg_now_ns() - start) * rate / 1e9);

		while (seq < due) {
			unsigned f = (unsigned)(seq % x->nflows), k = 0;

			memset(mm, 0, sizeof(mm));
			/* A batch per flow: consecutive sequence numbers of one flow go out
			 * together. */
			for (; k < 32 && seq + k < due; k++) {
				struct bench_hdr h = {BENCH_MAGIC_KERNEL, f, seq + k, lg_now_ns()};

				memcpy(bufs[k], x->frames[f] + 42, pl);
				memcpy(bufs[k] + pl, &h, sizeof(h));
				iov[k].iov_base = bufs[k];
				iov[k].iov_len = len;
				mm[k].msg_hdr.msg_iov = &iov[k];
				mm[k].msg_hdr.msg_iovlen = 1;
			}
			sendmmsg(x->tx_fd[f], mm, k, 0);
			seq += k;
		}
		lg_sleep_until(lg_now_ns() + 1000000);
	}
	*sent = seq;
	return 0;
}

/* Runs one step and fills r with what was sent and what the sink saw. */
static int lg_xdp_run(struct lg_xdp *x, bool live, double rate, double secs, struct lg_run *r)
{
	struct bench_sink_stats a, b;
	uint64_t busy0, total0, start, task0, relay0;
	uint32_t key = 0;
	int e;

	memset(r, 0, sizeof(*r));
	memset(&x->hist, 0, sizeof(x->hist));
	if (bpf_map_update_elem(x->hist_fd, &key, &x->hist, BPF_ANY) ||
	    lg_sink_sum(x->stats_fd, x->ncpus, &a) || lg_cpu_sample(&busy0, &total0))
		return -EIO;
	task0 = lg_cpu_tasks_ns(&x->tasks, &relay0);
	start = lg_now_ns();
	e = live ? lg_gen_live(x, rate, secs, &r->sent) : lg_gen_user(x, rate, secs, &r->sent);
	if (e)
		return e;
	r->secs = (double)(lg_now_ns() - start) / 1e9;
	r->rate = (double)r->sent / r->secs;
	lg_sleep_until(lg_now_ns() + LG_SETTLE_NS);
	if (lg_sink_sum(x->stats_fd, x->ncpus, &b) || lg_cpu_sample(&r->busy, &r->total) ||
	    bpf_map_lookup_elem(x->hist_fd, &key, &x->hist))
		return -EIO;
	r->task_ns = lg_cpu_tasks_ns(&x->tasks, &r->relay_ns) - task0;
	r->relay_ns -= relay0;
	r->busy -= busy0, r->total -= total0;
	r->pkts = b.pkts - a.pkts;
	r->bad = b.bad - a.bad;
	return 0;
}

static double lg_loss(const struct lg_run *r)
{
	return r->sent ? 1.0 - (double)(r->pkts < r->sent ? r->pkts : r->sent) / r->sent : 1.0;
}

/* Highest delivered rate with loss < 0.1%: LG_FLAT_STEPS flat-out steps, the best of them when
 * one is lossless (the generator, not the path, is then the limit); else bisection on the offered
 * rate below the best. Everything the path does runs on one CPU, so the host's other jobs (on this
 * VM, phases of seconds to minutes in which every step of the path runs slower) can only lower a
 * step's rate: the best of a few steps is the path's own, as the streaming clients' search and
 * the program time (lg_xdp_prog_ns) take it. */
#define LG_FLAT_STEPS 3
static double lg_xdp_search(struct lg_xdp *x, double *flat_offered, double *flat_delivered,
			    char *log, size_t logcap)
{
	const struct lg_opts *o = x->o;
	double lo = 0, hi, best = 0, step = o->search_step;
	struct lg_run r, top = {0};
	size_t used = 0;
	bool lossless = false;

	for (int i = 0; i < LG_FLAT_STEPS; i++) {
		bool ok;

		if (lg_xdp_run(x, true, 0, step, &r))
			return -1;
		if (used < logcap)
			used += (size_t)snprintf(log + used, logcap - used, "%sflat:%.0f/%.4f",
						 i ? " " : "", r.rate, lg_loss(&r));
		ok = lg_loss(&r) < LG_LOSS_OK;
		/* A lossless step beats any lossy one; among equals, the most delivered. */
		if (!i || (ok && !lossless) ||
		    (ok == lossless && (double)r.pkts / r.secs > (double)top.pkts / top.secs)) {
			top = r;
			lossless = ok;
		}
	}
	r = top;
	*flat_offered = r.rate;
	*flat_delivered = (double)r.pkts / r.secs;
	if (lossless)
		return *flat_delivered;
	hi = r.rate < o->max_rate ? r.rate : o->max_rate;
	double rate = *flat_delivered * 0.95;

	/* Bisect; until a lossless rate is found, keep quartering (bounded: 10 steps, >= 1 kpps).
	 */
	for (int i = 0; i < 10 && rate >= 1000; i++) {
		if (lg_xdp_run(x, true, rate, step, &r))
			return -1;
		if (used < logcap)
			used += (size_t)snprintf(log + used, logcap - used, " %.0f/%.4f", rate,
						 lg_loss(&r));
		if (lg_loss(&r) < LG_LOSS_OK) {
			lo = rate;
			if ((double)r.pkts / r.secs > best)
				best = (double)r.pkts / r.secs;
		} else {
			hi = rate;
		}
		if (lo > 0 && hi - lo < hi * 0.03)
			break;
		rate = lo > 0 ? (lo + hi) / 2 : hi / 4;
	}
	return best;
}

/* Run time of the XDP program on the server veth (the relay under test, or libxdp's dispatcher
 * calling it) per packet, at flat-out rate with the kernel's BPF run-time statistics on
 * (BPF_ENABLE_STATS: on while the fd is open; it costs two clock reads per run, so the search runs
 * without it). The program's own cost, apart from the generator, the veths and the sink sharing
 * the CPU. Other jobs on the machine can only add to it (cache misses, a hypervisor taking the
 * CPU), so the figure is the least of LG_PROG_STEPS short steps. -1 when not available. */
#define LG_PROG_STEPS 5
static double lg_xdp_prog_ns(struct lg_xdp *x, double secs)
{
	uint32_t id = 0, len;
	int stats_fd, prog_fd = -1;
	struct lg_run r;
	double ns = -1;

	if (lg_netns_enter(x->sdev.ns) || bpf_xdp_query_id(x->sdev.ifindex, 0, &id) || !id)
		return -1;
	prog_fd = bpf_prog_get_fd_by_id(id);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	for (int i = 0; i < LG_PROG_STEPS && prog_fd >= 0 && stats_fd >= 0; i++) {
		struct bpf_prog_info a = {0}, b = {0};
		double step;

		len = sizeof(a);
		if (bpf_obj_get_info_by_fd(prog_fd, &a, &len) || lg_netns_enter(x->cdev.ns) ||
		    lg_xdp_run(x, true, 0, secs / LG_PROG_STEPS, &r))
			break;
		len = sizeof(b);
		if (bpf_obj_get_info_by_fd(prog_fd, &b, &len) || b.run_cnt <= a.run_cnt)
			break;
		step = (double)(b.run_time_ns - a.run_time_ns) / (double)(b.run_cnt - a.run_cnt);
		if (ns < 0 || step < ns)
			ns = step;
	}
	if (stats_fd >= 0)
		close(stats_fd);
	if (prog_fd >= 0)
		close(prog_fd);
	lg_netns_enter(x->cdev.ns);
	return ns;
}

/* Builds one frame per flow for the path under test. */
static int lg_xdp_frames(struct lg_xdp *x, struct lg_session *s)
{
	const struct lg_opts *o = x->o;
	uint32_t cip = o->client_ip.sin_addr.s_addr;
	unsigned off = 0;

	for (unsigned f = 0; f < x->nflows; f++) {
		uint16_t pport = (uint16_t)(ntohs(o->peer.sin_port) + f);

		if (!strcmp(o->mode, "routed"))
			x->lens[f] = lg_frame(x->frames[f], x->cdev.mac, x->sdev.mac, cip,
					      (uint16_t)(40000 + f), o->peer.sin_addr.s_addr, pport,
					      0, o->size, f, &off);
		else
			x->lens[f] = lg_frame(x->frames[f], x->cdev.mac, x->sdev.mac, cip,
					      s ? s[f].local_port : (uint16_t)(40000 + f),
					      o->server.sin_addr.s_addr, ntohs(o->server.sin_port),
					      s ? s[f].channel : (uint16_t)(STUN_CHANNEL_MIN + f),
					      o->size, f, &off);
	}
	x->hdr_off = off;
	for (uint32_t f = 0; f < x->nflows; f++)
		if (bpf_map_update_elem(x->gen_tmpl_fd, &f, x->frames[f], BPF_ANY))
			return -errno;
	return 0;
}

/* Userspace sending sockets, one per flow: the TURN session's own, or one towards the peer (routed)
 * or the server's listening port (ceiling), from the same source ports as the crafted frames. */
static int lg_xdp_tx_sockets(struct lg_xdp *x, const struct lg_session *s)
{
	const struct lg_opts *o = x->o;

	for (unsigned f = 0; f < x->nflows; f++) {
		struct sockaddr_in src = o->client_ip, dst = o->server;
		int buf = 4 << 20;

		if (s) {
			x->tx_fd[f] = s[f].fd;
			continue;
		}
		src.sin_port = htons((uint16_t)(40000 + f));
		if (!strcmp(o->mode, "routed")) {
			dst = o->peer;
			dst.sin_port = htons((uint16_t)(ntohs(o->peer.sin_port) + f));
		}
		x->tx_fd[f] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (x->tx_fd[f] < 0 || bind(x->tx_fd[f], (struct sockaddr *)&src, sizeof(src)) ||
		    connect(x->tx_fd[f], (struct sockaddr *)&dst, sizeof(dst)))
			return -errno;
		setsockopt(x->tx_fd[f], SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	}
	return 0;
}

/* Attaches the sink on the peer veth (and the wire ceiling on the server veth in ceiling mode). */
static int lg_xdp_attach_all(struct lg_xdp *x, struct bpf_object *sink, int sink_fd,
			     struct bpf_object *ceil, int ceil_fd, const struct lg_session *s)
{
	const struct lg_opts *o = x->o;
	uint32_t key = 0;
	struct bench_sink_cfg sc = {
	    .dst_ip = o->peer.sin_addr.s_addr,
	    .port_lo = ntohs(o->peer.sin_port),
	    .port_hi = (uint16_t)(ntohs(o->peer.sin_port) + x->nflows - 1),
	    .payload_len = (uint16_t)o->size,
	};

	if (!strcmp(o->mode, "routed"))
		sc.src_ip = o->client_ip.sin_addr.s_addr;
	else if (!strcmp(o->mode, "ceiling"))
		sc.src_ip = x->odev.ip;
	else
		sc.src_ip = s[0].relay.sin_addr.s_addr;
	if (bpf_map_update_elem(lg_map_fd(sink, "bench_sink_cfg"), &key, &sc, BPF_ANY))
		return -errno;
	if (ceil) {
		struct bench_ceiling_cfg cc = {
		    .listen_ip = o->server.sin_addr.s_addr,
		    .relay_ip = x->odev.ip,
		    .peer_ip = o->peer.sin_addr.s_addr,
		    .ifindex = (uint32_t)x->odev.ifindex,
		    .listen_port = ntohs(o->server.sin_port),
		    .relay_port = 50000,
		    .peer_port = ntohs(o->peer.sin_port),
		};

		memcpy(cc.src_mac, x->odev.mac, 6);
		memcpy(cc.dst_mac, x->pdev.mac, 6);
		if (bpf_map_update_elem(lg_map_fd(ceil, "bench_ceiling_cfg"), &key, &cc, BPF_ANY) ||
		    lg_xdp_attach(&x->sdev, ceil_fd))
			return -EIO;
	}
	/* Live frames need the ingress device's XDP rxq registered: veth does that when a program
	 * is attached, so the client veth carries the sink too (it passes everything arriving
	 * there). */
	return lg_xdp_attach(&x->pdev, sink_fd) || lg_xdp_attach(&x->cdev, sink_fd) ? -EIO : 0;
}

static void lg_xdp_report(struct lg_xdp *x, double flat_off, double flat_del, double maxpps,
			  double prog_ns, const char *log, const struct lg_run *fr)
{
	const struct lg_opts *o = x->o;
	struct lg_json j;

	lg_json_begin(&j);
	lg_json_str(&j, "test", "xdp");
	lg_json_str(&j, "mode", o->mode);
	lg_json_num(&j, "allocs", x->nflows);
	lg_json_num(&j, "size", o->size);
	if (o->search_step > 0) {
		lg_json_num(&j, "flat_offered_pps", flat_off);
		lg_json_num(&j, "flat_delivered_pps", flat_del);
		lg_json_num(&j, "max_pps", maxpps);
		lg_json_str(&j, "search", log);
		lg_json_num(&j, "prog_ns_per_pkt", prog_ns);
	}
	if (fr) {
		lg_json_num(&j, "fixed_rate", o->rate);
		lg_json_num(&j, "fixed_offered_pps", fr->rate);
		lg_json_num(&j, "fixed_sent", (double)fr->sent);
		lg_json_num(&j, "fixed_delivered", (double)fr->pkts);
		lg_json_num(&j, "fixed_loss", lg_loss(fr));
		lg_json_num(&j, "fixed_bad", (double)fr->bad);
		lg_json_num(&j, "cpu_busy_jiffies", (double)fr->busy);
		lg_json_num(&j, "cpu_total_jiffies", (double)fr->total);
		lg_json_num(&j, "cpu_stat_ns_per_pkt",
			    fr->pkts ? (double)fr->busy * (1e9 / LG_USER_HZ) / (double)fr->pkts
				     : -1);
		lg_json_num(&j, "cpu_task_ns", (double)fr->task_ns);
		lg_json_num(&j, "cpu_relay_process_ns_per_pkt",
			    fr->pkts ? (double)fr->relay_ns / (double)fr->pkts : -1);
		lg_json_num(&j, "cpu_ns_per_pkt",
			    fr->pkts ? (double)fr->task_ns / (double)fr->pkts : -1);
		lg_json_num(&j, "lat_p50_us", lg_hist_pct(&x->hist, 0.5));
		lg_json_num(&j, "lat_p99_us", lg_hist_pct(&x->hist, 0.99));
		lg_json_num(&j, "lat_p999_us", lg_hist_pct(&x->hist, 0.999));
	}
	lg_json_end(&j);
}

int lg_cmd_xdp(const struct lg_opts *o)
{
	struct lg_xdp x = {.o = o, .nflows = o->allocs};
	struct bpf_object *gen = NULL, *sink = NULL, *ceil = NULL;
	struct lg_session *s = NULL;
	int sink_fd = -1, ceil_fd = -1, rc = -1;
	double flat_off = 0, flat_del = 0, maxpps = 0, prog_ns = -1;
	char dir[512], log[1024] = "";
	struct lg_run fr;
	bool turn = !strcmp(o->mode, "turn"), ceiling = !strcmp(o->mode, "ceiling");

	if (o->bpf_dir) {
		snprintf(dir, sizeof(dir), "%s", o->bpf_dir);
	} else {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 8);

		dir[n > 0 ? n : 0] = 0;
		char *slash = strrchr(dir, '/');

		snprintf(slash ? slash + 1 : dir, 8, "bpf");
	}
	lg_cpu_tasks_init(&x.tasks, o->cpu_pids);
	if (!getenv("NTS_LOADGEN_DEBUG"))
		libbpf_set_print(NULL);
	x.ncpus = libbpf_num_possible_cpus();
	x.frames = calloc(x.nflows, sizeof(*x.frames));
	x.lens = calloc(x.nflows, sizeof(*x.lens));
	x.tx_fd = calloc(x.nflows, sizeof(int));
	if (x.ncpus < 1 || !x.frames || !x.lens || !x.tx_fd || x.nflows > BENCH_MAX_FLOWS)
		goto out;
	if (lg_dev_info(o->client_ns, o->client_dev, &x.cdev) ||
	    lg_dev_info(o->server_ns, o->server_dev, &x.sdev) ||
	    lg_dev_info(o->server_ns, o->server_out_dev, &x.odev) ||
	    lg_dev_info(o->peer_ns, o->peer_dev, &x.pdev)) {
		fprintf(
		    stderr,
		    "nts-loadgen: need --client-dev, --server-dev, --server-out-dev, --peer-dev\n");
		goto out;
	}
	gen = lg_bpf_load(dir, "bench_gen", &x.gen_fd);
	sink = lg_bpf_load(dir, "bench_sink", &sink_fd);
	if (ceiling)
		ceil = lg_bpf_load(dir, "bench_ceiling", &ceil_fd);
	if (!gen || !sink || (ceiling && !ceil))
		goto out;
	x.gen_cfg_fd = lg_map_fd(gen, "bench_gen_cfg");
	x.gen_state_fd = lg_map_fd(gen, "bench_gen_state");
	x.gen_tmpl_fd = lg_map_fd(gen, "bench_gen_tmpl");
	x.stats_fd = lg_map_fd(sink, "bench_sink_stats");
	x.hist_fd = lg_map_fd(sink, "bench_sink_hist");
	if (turn) {
		s = calloc(x.nflows, sizeof(*s));
		if (!s || lg_netns_enter(o->client_ns) || lg_sessions_open(s, x.nflows, o))
			goto out;
		if (lg_sessions_setup(s, x.nflows, o, lg_now_ns() + 10000000000ull) < x.nflows) {
			fprintf(stderr, "nts-loadgen: allocation failed: error %d\n", s[0].error);
			goto out;
		}
	}
	if (lg_xdp_frames(&x, s) || lg_xdp_attach_all(&x, sink, sink_fd, ceil, ceil_fd, s) ||
	    lg_netns_enter(o->client_ns) || lg_xdp_tx_sockets(&x, s))
		goto out;
	if (o->search_step > 0)
		maxpps = lg_xdp_search(&x, &flat_off, &flat_del, log, sizeof(log));
	if (o->search_step > 0 && maxpps >= 0 && strcmp(o->mode, "routed"))
		prog_ns = lg_xdp_prog_ns(&x, o->search_step);
	if (maxpps < 0 || (o->rate > 0 && lg_xdp_run(&x, false, o->rate, o->duration, &fr)))
		goto out;
	lg_xdp_report(&x, flat_off, flat_del, maxpps, prog_ns, log, o->rate > 0 ? &fr : NULL);
	rc = 0;
out:
	lg_xdp_detach(&x.pdev);
	lg_xdp_detach(&x.cdev);
	if (ceil)
		lg_xdp_detach(&x.sdev);
	if (s)
		lg_sessions_close(s, x.nflows, o);
	else
		for (unsigned f = 0; x.tx_fd && f < x.nflows; f++)
			if (x.tx_fd[f] > 0)
				close(x.tx_fd[f]);
	bpf_object__close(ceil);
	bpf_object__close(sink);
	bpf_object__close(gen);
	free(s), free(x.frames), free(x.lens), free(x.tx_fd);
	return rc;
}
