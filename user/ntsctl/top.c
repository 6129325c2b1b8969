/* ntsctl top: a live view of the running ntsd, refreshed every second: allocations, packets and
 * bits per second each way split between the kernel fast path and userspace, the busiest
 * allocations, and errors and drops by reason. Data: the control commands "status" and
 * "allocations" (user/ntsd/ctl_cmds.c) and, when attached, the fast path's pinned counters.
 * Plain ANSI escapes on the alternate screen (usable over ssh, no curses); q or Ctrl-C restores
 * the terminal. --once prints one frame, without escapes when stdout is not a terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "fastpath/fastpath.h"
#include "ntsctl/ntsctl.h"

#define TOP_MAX_ALLOCS 4096 /* allocations remembered between two samples */

/* Daemon counters shown as rates, by their name in the "stats" object. */
static const char *const top_rate_names[] = {
    "user_c2p_packets", "user_c2p_bytes", "kernel_c2p_packets", "kernel_c2p_bytes",
    "user_p2c_packets", "user_p2c_bytes", "kernel_p2c_packets", "kernel_p2c_bytes",
};
enum { TOP_NRATES = sizeof(top_rate_names) / sizeof(top_rate_names[0]) };

/* Errors and drops: daemon counters by name; the fast path's drop_* and pass_* come from its
 * field table. */
static const char *const top_drop_names[] = {
    "auth_failures",	      "stale_nonces",
    "unauth_rate_limited",    "udp_dropped_malformed",
    "tcp_closed_bad_framing", "peer_dropped_no_permission",
    "peer_denied_by_policy",  "kernel_drop_redirect_failed",
};
enum { TOP_NDROPS = sizeof(top_drop_names) / sizeof(top_drop_names[0]) };

struct top_alloc {
	uint64_t id;
	uint64_t c2p_bytes, p2c_bytes;
	uint64_t c2p_rate, p2c_rate; /* bits per second */
	char client[64], user[64];
};

struct top_sample {
	uint64_t t_ms;
	bool up;
	json_t *status; /* "status" result; NULL when ntsd does not answer */
	uint64_t rates[TOP_NRATES];
	uint64_t drops[TOP_NDROPS];
	uint64_t errors; /* error responses, all methods */
	bool fp;	 /* fast-path counters read */
	struct nts_fp_stats fp_stats;
	struct top_alloc *allocs;
	size_t nallocs;
};

static uint64_t top_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t top_u64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static const char *top_str(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : dflt;
}

static void top_sample_free(struct top_sample *s)
{
	json_decref(s->status);
	free(s->allocs);
	memset(s, 0, sizeof(*s));
}

static void top_read_allocs(struct ntsctl *c, struct top_sample *s)
{
	json_t *res = NULL, *a;
	char err[256];
	size_t i;

	if (ctl_call(c->ctl_socket, "allocations", NULL, 5000, &res, err, sizeof(err)))
		return;
	s->allocs = calloc(TOP_MAX_ALLOCS, sizeof(*s->allocs));
	json_array_foreach(json_object_get(res, "allocations"), i, a)
	{
		struct top_alloc *t;

		if (!s->allocs || s->nallocs >= TOP_MAX_ALLOCS)
			break;
		t = &s->allocs[s->nallocs++];
		t->id = top_u64(a, "id");
		t->c2p_bytes = top_u64(a, "c2p_bytes");
		t->p2c_bytes = top_u64(a, "p2c_bytes");
		snprintf(t->client, sizeof(t->client), "%s", top_str(a, "client", "?"));
		snprintf(t->user, sizeof(t->user), "%s", top_str(a, "username", ""));
	}
	json_decref(res);
}

static void top_sample_take(struct ntsctl *c, struct top_sample *s)
{
	json_t *stats, *v;
	struct fastpath *fp;
	const char *key;
	char err[256];

	memset(s, 0, sizeof(*s));
	s->t_ms = top_now_ms();
	s->up = ctl_call(c->ctl_socket, "status", NULL, 5000, &s->status, err, sizeof(err)) == 0;
	stats = json_object_get(s->status, "stats");
	for (size_t i = 0; i < TOP_NRATES; i++)
		s->rates[i] = top_u64(stats, top_rate_names[i]);
	for (size_t i = 0; i < TOP_NDROPS; i++)
		s->drops[i] = top_u64(stats, top_drop_names[i]);
	json_object_foreach(json_object_get(stats, "errors"), key, v) s->errors +=
	    top_u64(json_object_get(stats, "errors"), key);
	if (s->up)
		top_read_allocs(c, s);
	if (fastpath_open(c->pin_dir, &fp) == 0) {
		s->fp = fastpath_stats_read(fp, &s->fp_stats) == 0;
		fastpath_close(fp);
	}
}

/* Per-second rate of a counter between two samples. */
static uint64_t top_rate(uint64_t prev, uint64_t cur, uint64_t ms)
{
	return cur > prev && ms ? (cur - prev) * 1000 / ms : 0;
}

/* "12.3 M" style: value with an SI prefix, in a field of width w. */
static const char *top_si(uint64_t v, char *buf, size_t len)
{
	static const char pfx[] = " kMGTP";
	double d = (double)v;
	int i = 0;

	while (d >= 1000 && i < 5) {
		d /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu ", (unsigned long long)v);
	else
		snprintf(buf, len, "%.1f %c", d, pfx[i]);
	return buf;
}

static int top_cmp_busy(const void *a, const void *b)
{
	const struct top_alloc *x = a, *y = b;
	uint64_t bx = x->c2p_rate + x->p2c_rate, by = y->c2p_rate + y->p2c_rate;

	return bx < by ? 1 : bx > by ? -1 : (x->id > y->id) - (x->id < y->id);
}

/* Fills each allocation's rates from the previous sample's byte counts (new ones: since 0). */
static void top_alloc_rates(const struct top_sample *prev, struct top_sample *cur, uint64_t ms)
{
	for (size_t i = 0; i < cur->nallocs; i++) {
		struct top_alloc *a = &cur->allocs[i];
		uint64_t c2p = 0, p2c = 0;

		for (size_t j = 0; j < prev->nallocs; j++)
			if (prev->allocs[j].id == a->id) {
				c2p = prev->allocs[j].c2p_bytes;
				p2c = prev->allocs[j].p2c_bytes;
				break;
			}
		a->c2p_rate = top_rate(c2p, a->c2p_bytes, ms) * 8;
		a->p2c_rate = top_rate(p2c, a->p2c_bytes, ms) * 8;
	}
	if (cur->nallocs)
		qsort(cur->allocs, cur->nallocs, sizeof(*cur->allocs), top_cmp_busy);
}

/* Output of one frame: lines end with "clear to end of line" on a terminal. */
struct top_out {
	FILE *f;
	const char *ctl_socket;
	bool ansi;
	int rows, cols, row;
};

static void top_line(struct top_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void top_line(struct top_out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (o->ansi && o->row >= o->rows - 1)
		return; /* keep the last row free: no scrolling */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (o->ansi && o->cols > 0 && (int)strlen(buf) > o->cols)
		buf[o->cols] = 0;
	fprintf(o->f, "%s%s\n", buf, o->ansi ? "\033[K" : "");
	o->row++;
}

static void top_header(struct top_out *o, const struct top_sample *s)
{
	char clock[16];
	time_t now = time(NULL);
	struct tm tm;
	long long up = (long long)top_u64(s->status, "uptime");

	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	top_line(o, "nts top - ntsd %s, up %lldd %02lld:%02lld:%02lld - %s",
		 top_str(s->status, "version", "?"), up / 86400, up / 3600 % 24, up / 60 % 60,
		 up % 60, clock);
	top_line(
	    o, "allocations %llu, permissions %llu, channels %llu, TCP/TLS connections %llu",
	    (unsigned long long)top_u64(s->status, "allocations"),
	    (unsigned long long)top_u64(json_object_get(s->status, "stats"), "permissions_current"),
	    (unsigned long long)top_u64(json_object_get(s->status, "stats"), "channels_current"),
	    (unsigned long long)top_u64(s->status, "tcp_connections"));
	top_line(o, "%s", "");
}

static void top_rates(struct top_out *o, const struct top_sample *p, const struct top_sample *s,
		      uint64_t ms)
{
	static const char *const rows[] = {"client->peer", "peer->client"};
	char a[32], b[32], c[32], d[32];

	top_line(o, "%-14s %14s %14s %14s %14s", "", "user pkt/s", "user bit/s", "kernel pkt/s",
		 "kernel bit/s");
	for (int r = 0; r < 2; r++) {
		const int k = r * 4;

		top_line(o, "%-14s %14s %14s %14s %14s", rows[r],
			 top_si(top_rate(p->rates[k], s->rates[k], ms), a, sizeof(a)),
			 top_si(top_rate(p->rates[k + 1], s->rates[k + 1], ms) * 8, b, sizeof(b)),
			 top_si(top_rate(p->rates[k + 2], s->rates[k + 2], ms), c, sizeof(c)),
			 top_si(top_rate(p->rates[k + 3], s->rates[k + 3], ms) * 8, d, sizeof(d)));
	}
	top_line(o, "%s", "");
}

static void top_busiest(struct top_out *o, const struct top_sample *s, size_t max)
{
	char a[32], b[32];

	top_line(o, "busiest allocations   %20s %12s %12s  %s", "client", "c2p bit/s", "p2c bit/s",
		 "username");
	for (size_t i = 0; i < s->nallocs && i < max; i++)
		top_line(o, "  %-19llu %20s %12s %12s  %s", (unsigned long long)s->allocs[i].id,
			 s->allocs[i].client, top_si(s->allocs[i].c2p_rate, a, sizeof(a)),
			 top_si(s->allocs[i].p2c_rate, b, sizeof(b)), s->allocs[i].user);
	if (!s->nallocs)
		top_line(o, "  (none)");
	top_line(o, "%s", "");
}

static void top_drops(struct top_out *o, const struct top_sample *p, const struct top_sample *s,
		      uint64_t ms)
{
	json_t *errs = json_object_get(json_object_get(s->status, "stats"), "errors");
	const json_t *perrs = json_object_get(json_object_get(p->status, "stats"), "errors");
	const char *method;
	json_t *v;

	top_line(o, "errors and drops           per second        total");
	top_line(o, "  %-30s %10llu %12llu", "error responses",
		 (unsigned long long)top_rate(p->errors, s->errors, ms),
		 (unsigned long long)s->errors);
	json_object_foreach(errs, method, v)
	{
		uint64_t cur = top_u64(errs, method);
		char name[48];

		if (!cur)
			continue;
		snprintf(name, sizeof(name), "  to %s", method);
		top_line(o, "  %-30s %10llu %12llu", name,
			 (unsigned long long)top_rate(top_u64(perrs, method), cur, ms),
			 (unsigned long long)cur);
	}
	for (size_t i = 0; i < TOP_NDROPS; i++)
		if (s->drops[i])
			top_line(o, "  %-30s %10llu %12llu", top_drop_names[i],
				 (unsigned long long)top_rate(p->drops[i], s->drops[i], ms),
				 (unsigned long long)s->drops[i]);
	if (!s->fp) {
		top_line(o, "  (fast path not attached: kernel counters absent)");
		return;
	}
	for (const struct fastpath_stat_field *f = fastpath_stat_fields; f->name; f++) {
		uint64_t cur =
		    *(const uint64_t *)(const void *)((const char *)&s->fp_stats + f->offset);
		uint64_t old =
		    p->fp
			? *(const uint64_t *)(const void *)((const char *)&p->fp_stats + f->offset)
			: cur;

		if (cur && (!strncmp(f->name, "drop_", 5) || !strncmp(f->name, "pass_", 5)))
			top_line(o, "  kernel %-23s %10llu %12llu", f->name,
				 (unsigned long long)top_rate(old, cur, ms),
				 (unsigned long long)cur);
	}
}

static void top_frame(struct top_out *o, const struct top_sample *p, struct top_sample *s)
{
	uint64_t ms = s->t_ms - p->t_ms;
	int fixed = 12 + TOP_NDROPS; /* rows besides the busiest allocations, roughly */

	o->row = 0;
	if (o->ansi)
		fputs("\033[H", o->f);
	if (!s->up) {
		top_line(o, "ntsd: not running (no control socket at %s)", o->ctl_socket);
	} else {
		top_alloc_rates(p, s, ms);
		top_header(o, s);
		top_rates(o, p, s, ms);
		top_busiest(o, s,
			    o->ansi ? (size_t)(o->rows > fixed + 3 ? o->rows - fixed : 3) : 10);
		top_drops(o, p, s, ms);
	}
	if (o->ansi) {
		fputs("\033[J", o->f); /* clear what an earlier, longer frame left */
		if (o->row < o->rows)
			fputs("q or Ctrl-C: quit", o->f);
	}
	fflush(o->f);
}

static void top_winsize(struct top_out *o)
{
	struct winsize ws;

	o->rows = 24;
	o->cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		o->rows = ws.ws_row;
		o->cols = ws.ws_col;
	}
}

static void top_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl top [--once]\n"
	    "Live view of ntsd, refreshed every second: allocations; packets and bits per\n"
	    "second each way, in userspace and in the kernel fast path; the busiest allocations;\n"
	    "errors and drops by reason. q or Ctrl-C quits. --once measures one second and prints\n"
	    "one frame (plain text when stdout is not a terminal), for scripts.\n");
}

/* The interactive loop: signals through a signalfd (no handler state), keys from stdin. */
static int top_live(struct ntsctl *c, struct top_out *o)
{
	struct termios saved, raw;
	bool tty_in = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	struct top_sample prev, cur;
	struct pollfd pfd[2];
	sigset_t set;
	int sfd, rc = 0;
	bool quit = false;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "ntsctl top: signals: %s\n", strerror(errno));
		return 1;
	}
	if (tty_in) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	if (o->ansi)
		fputs("\033[?1049h\033[?25l\033[H\033[2J", o->f); /* alternate screen, no cursor */
	top_winsize(o);
	top_sample_take(c, &prev);
	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = tty_in ? STDIN_FILENO : -1, .events = POLLIN};
	while (!quit) {
		int64_t left = (int64_t)(prev.t_ms + 1000) - (int64_t)top_now_ms();
		int n = poll(pfd, 2, left > 0 ? (int)left : 0);

		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo != SIGWINCH)
				quit = true;
			else
				top_winsize(o); /* redrawn at the next second */
		}
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			char ch = 0;

			if (read(STDIN_FILENO, &ch, 1) <= 0 || ch == 'q' || ch == 'Q' || ch == 3)
				quit = true;
		}
		if (n > 0 && (pfd[1].revents & (POLLHUP | POLLERR)))
			quit = true;
		if (quit || top_now_ms() < prev.t_ms + 1000)
			continue;
		top_sample_take(c, &cur);
		top_frame(o, &prev, &cur);
		if (!o->ansi)
			fputc('\n', o->f);
		top_sample_free(&prev);
		prev = cur;
	}
	top_sample_free(&prev);
	if (o->ansi)
		fputs("\033[?25h\033[?1049l", o->f); /* cursor back, main screen back */
	fflush(o->f);
	if (tty_in)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(sfd);
	return rc;
}

int cmd_top(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"once", no_argument, NULL, '1'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct top_out out = {.f = stdout,
			      .ctl_socket = c->ctl_socket,
			      .ansi = isatty(STDOUT_FILENO),
			      .rows = 24,
			      .cols = 80};
	struct top_sample prev, cur;
	bool once = false;
	int o;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case '1':
			once = true;
			break;
		case 'h':
			top_usage(stdout);
			return 0;
		default:
			top_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		top_usage(stderr);
		return 2;
	}
	if (!once)
		return top_live(c, &out);
	/* One frame: one second measured, printed as plain lines (a script reads them). */
	out.ansi = false;
	top_sample_take(c, &prev);
	if (!prev.up) {
		fprintf(stderr, "ntsctl top: ntsd is not running (no control socket at %s)\n",
			c->ctl_socket);
		top_sample_free(&prev);
		return 1;
	}
	usleep(1000 * 1000);
	top_sample_take(c, &cur);
	top_frame(&out, &prev, &cur);
	top_sample_free(&prev);
	top_sample_free(&cur);
	return 0;
}
