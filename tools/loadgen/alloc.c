/* `nts-loadgen alloc`: allocation set-up rate (authenticated Allocate + ChannelBind per second,
 * with a window of set-ups in flight) and the server's resident memory per open allocation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg.h"

int lg_cmd_alloc(const struct lg_opts *o)
{
	struct lg_session *s = calloc(o->allocs, sizeof(*s));
	struct lg_json j;
	long rss0 = -1, rss1 = -1;
	uint64_t t0, t1;
	unsigned done;
	int rc = -1;

	if (!s)
		return -ENOMEM;
	if (lg_netns_enter(o->client_ns) || lg_sessions_open(s, o->allocs, o) < 0) {
		fprintf(stderr, "nts-loadgen: cannot open %u client sockets: %s\n", o->allocs,
			strerror(errno));
		goto out;
	}
	if (o->rss_pid > 0)
		rss0 = lg_rss_kb(o->rss_pid);
	t0 = lg_now_ns();
	done = lg_sessions_setup(s, o->allocs, o, t0 + (uint64_t)(o->duration * 1e9));
	t1 = lg_now_ns();
	if (o->rss_pid > 0) {
		lg_sleep_until(lg_now_ns() +
			       300000000ull); /* let the server finish its bookkeeping */
		rss1 = lg_rss_kb(o->rss_pid);
	}
	for (unsigned i = 0; i < o->allocs; i++)
		if (s[i].state != LG_DONE) {
			fprintf(stderr,
				"nts-loadgen: allocation %u failed in state %d: response 0x%04x, "
				"error %d\n",
				i, s[i].fail_state, s[i].fail_type, s[i].error);
			break;
		}
	lg_json_begin(&j);
	lg_json_str(&j, "test", "alloc");
	lg_json_num(&j, "allocs", o->allocs);
	lg_json_num(&j, "done", done);
	lg_json_num(&j, "secs", (double)(t1 - t0) / 1e9);
	lg_json_num(&j, "allocs_per_s", done ? done / ((double)(t1 - t0) / 1e9) : 0);
	if (o->rss_pid > 0) {
		lg_json_num(&j, "rss_before_kb", (double)rss0);
		lg_json_num(&j, "rss_after_kb", (double)rss1);
		lg_json_num(&j, "rss_per_alloc_bytes",
			    done && rss0 > 0 && rss1 > 0 ? (double)(rss1 - rss0) * 1024.0 / done
							 : -1);
	}
	lg_json_end(&j);
	rc = done == o->allocs ? 0 : -EIO;
out:
	lg_sessions_close(s, o->allocs, o);
	free(s);
	return rc;
}
