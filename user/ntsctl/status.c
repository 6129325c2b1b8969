/* ntsctl status: the running ntsd (control command "status": version, uptime, listeners,
 * allocations) and the fast path from its pinned state: attached interfaces with mode and program
 * id, whether ntsd mirrors into the maps, and how full each map is.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "fastpath/fastpath.h"
#include "fastpath/loader.h"
#include "ntsctl/ntsctl.h"

/* The string member key of o, or dflt when it is missing or not a string. */
static const char *json_str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static void status_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl status [--json]\n"
	    "Shows whether ntsd runs (version, uptime, listeners, allocations) and the XDP fast\n"
	    "path: interfaces it is attached to (mode, program id), map fill, and whether ntsd\n"
	    "mirrors its channels into the maps.\n");
}

/* The daemon part: "status" and "fastpath-status" over the control socket, or null. */
static json_t *daemon_status(struct ntsctl *c)
{
	json_t *res = NULL, *fp = NULL;
	char err[256];
	int rc = ctl_call(c->ctl_socket, "status", NULL, 5000, &res, err, sizeof(err));

	if (rc)
		return json_null();
	if (ctl_call(c->ctl_socket, "fastpath-status", NULL, 5000, &fp, err, sizeof(err)) == 0)
		json_object_set_new(res, "fastpath", fp);
	return res;
}

static int add_port(void *arg, int ifindex)
{
	struct fastpath_attach_info info;
	json_t *o;

	if (fastpath_attached_info(ifindex, &info) == 0) {
		o = json_pack("{s:s, s:i, s:s, s:i, s:b}", "interface", info.ifname, "ifindex",
			      ifindex, "mode", info.mode, "prog_id", (int)info.prog_id, "legacy",
			      info.legacy);
		if (o && info.legacy)
			json_object_set_new(o, "legacy_reason",
					    json_string(fastpath_legacy_reason()));
	} else {
		char name[IF_NAMESIZE] = "?";

		if_indextoname(ifindex, name);
		o = json_pack("{s:s, s:i, s:n}", "interface", name, "ifindex", ifindex, "mode");
	}
	json_array_append_new(arg, o);
	return 0;
}

/* The fast-path part: attached interfaces and map fill, from the pinned maps. */
static json_t *fastpath_status(struct ntsctl *c)
{
	static const char *names[] = {"client", "peer", "perm", "relay", "alloc"};
	json_t *res = json_object(), *ports = json_array(), *maps = json_object();
	struct fastpath *fp;
	uint32_t count, max;

	json_object_set_new(res, "pin_dir", json_string(c->pin_dir));
	if (fastpath_open(c->pin_dir, &fp)) {
		json_object_set_new(res, "pinned", json_false());
		json_decref(ports);
		json_decref(maps);
		return res;
	}
	json_object_set_new(res, "pinned", json_true());
	fastpath_foreach_port(c->pin_dir, add_port, ports);
	const struct fastpath_fds *f = fastpath_fds(fp);
	const int fds[] = {f->client, f->peer, f->perm, f->relay, f->alloc};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fastpath_map_fill(fds[i], &count, &max) == 0)
			json_object_set_new(maps, names[i],
					    json_pack("{s:i, s:i}", "entries", (json_int_t)count,
						      "max_entries", (json_int_t)max));
	fastpath_close(fp);
	json_object_set_new(res, "interfaces", ports);
	json_object_set_new(res, "maps", maps);
	return res;
}

static void print_daemon(struct ntsctl *c, json_t *d)
{
	json_t *l, *fp;
	size_t i;

	if (json_is_null(d)) {
		printf("ntsd: not running (no control socket at %s)\n", c->ctl_socket);
		return;
	}
	printf("ntsd: running, version %s, up %llds, %lld allocations\n",
	       json_str_or(d, "version", "?"),
	       (long long)json_integer_value(json_object_get(d, "uptime")),
	       (long long)json_integer_value(json_object_get(d, "allocations")));
	json_array_foreach(json_object_get(d, "listen"), i, l) printf(
	    "  listening: %s %s\n", json_str_or(l, "transport", "?"), json_str_or(l, "addr", "?"));
	fp = json_object_get(d, "fastpath");
	if (fp)
		printf("  fast path: %s", json_is_true(json_object_get(fp, "adopted"))
					      ? "maps adopted, channels mirrored into the kernel"
					      : "no maps adopted (userspace relay only)");
	if (json_integer_value(json_object_get(fp, "generation")))
		printf(" (generation %lld; %lld entries of an earlier ntsd still relay)",
		       (long long)json_integer_value(json_object_get(fp, "generation")),
		       (long long)json_integer_value(json_object_get(fp, "foreign_entries")));
	printf("\n");
}

static void print_fastpath(json_t *f)
{
	json_t *p, *m;
	const char *name;
	size_t i;

	if (!json_is_true(json_object_get(f, "pinned"))) {
		printf("fast path: no maps pinned under %s (not attached)\n",
		       json_string_value(json_object_get(f, "pin_dir")));
		return;
	}
	printf("fast path: maps pinned under %s\n",
	       json_string_value(json_object_get(f, "pin_dir")));
	if (!json_array_size(json_object_get(f, "interfaces")))
		printf("  attached to no interface\n");
	json_array_foreach(json_object_get(f, "interfaces"), i, p)
	{
		if (json_is_null(json_object_get(p, "mode")))
			printf("  %s: not attached (still in the redirect map)\n",
			       json_string_value(json_object_get(p, "interface")));
		else
			printf("  %s: %s mode, program id %lld, %s%s%s\n",
			       json_string_value(json_object_get(p, "interface")),
			       json_string_value(json_object_get(p, "mode")),
			       (long long)json_integer_value(json_object_get(p, "prog_id")),
			       json_is_true(json_object_get(p, "legacy")) ? "legacy attach ("
									  : "libxdp dispatcher",
			       json_is_true(json_object_get(p, "legacy"))
				   ? json_str_or(p, "legacy_reason", "")
				   : "",
			       json_is_true(json_object_get(p, "legacy")) ? ")" : "");
	}
	json_object_foreach(json_object_get(f, "maps"), name, m)
	    printf("  map %-7s %8lld / %lld entries\n", name,
		   (long long)json_integer_value(json_object_get(m, "entries")),
		   (long long)json_integer_value(json_object_get(m, "max_entries")));
}

int cmd_status(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool json = false;
	json_t *d, *f;
	int o;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return 2;
	}
	d = daemon_status(c);
	f = fastpath_status(c);
	if (json) {
		json_t *all = json_pack("{s:o, s:o}", "ntsd", d, "fastpath", f);

		json_dumpf(all, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(all);
	} else {
		print_daemon(c, d);
		print_fastpath(f);
		json_decref(d);
		json_decref(f);
	}
	return 0;
}
