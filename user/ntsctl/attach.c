/* ntsctl attach: loads the XDP fast path onto an interface (libxdp), pins its maps under the pin
 * dir, and tells a running ntsd to adopt them and write its live channels and permissions.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "fastpath/loader.h"
#include "nts/fastpath_maps.h"
#include "ntsctl/ntsctl.h"

static void attach_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl attach DEV [--mode native|skb] [--channels N] [--allocations N]\n"
	    "Loads the XDP fast path on DEV (shared with other XDP programs through the libxdp\n"
	    "dispatcher), pins its maps under --pin-dir and tells a running ntsd to use them.\n"
	    "  --mode         native (driver XDP, default) or skb (generic XDP, any driver)\n"
	    "  --channels     channel map size (default: a running ntsd's --fastpath-channels,\n"
	    "                 else %u; maps already pinned keep their size)\n"
	    "  --allocations  relay/allocation map size (default: ntsd's --max-allocations,\n"
	    "                 else %u)\n",
	    NTS_FP_DEFAULT_CHANNELS, NTS_FP_DEFAULT_ALLOCS);
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > (1ul << 26))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* bpf_fib_lookup answers only where forwarding is on; say so rather than relay nothing. */
static void warn_forwarding(const char *dev)
{
	const char *fam[] = {"ipv4", "ipv6"};

	for (int i = 0; i < 2; i++) {
		char path[128], v = '0';
		FILE *f;

		snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/forwarding", fam[i], dev);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fread(&v, 1, 1, f) == 1 && v == '0')
			printf(
			    "note: %s forwarding is off on %s: the fast path passes %s packets to "
			    "ntsd (sysctl -w net.%s.conf.%s.forwarding=1 enables it)\n",
			    fam[i], dev, fam[i], fam[i], dev);
		fclose(f);
	}
}

/* Map sizes from a running ntsd's configuration (--fastpath-channels, --max-allocations). */
static void sizes_from_ntsd(struct ntsctl *c, uint32_t *channels, uint32_t *allocs)
{
	json_t *res = NULL;
	char err[256];
	json_int_t v;

	if (ctl_call(c->ctl_socket, "fastpath-status", NULL, 5000, &res, err, sizeof(err)))
		return;
	v = json_integer_value(json_object_get(res, "channels"));
	if (v > 0 && v <= (1 << 26))
		*channels = (uint32_t)v;
	v = json_integer_value(json_object_get(res, "allocations"));
	if (v > 0 && v <= (1 << 26))
		*allocs = (uint32_t)v;
	json_decref(res);
}

#define ATTACH_OBJECT "fastpath.bpf.o" /* what make install puts in $(PREFIX)/lib/nts */

/* The installed XDP object next to this ntsctl: ../lib/nts/ from an installed sbin/, or bpf/
 * beside it in a build folder. path (PATH_MAX bytes) gets it, or "" when there is none. */
static void find_object(char *path)
{
	static const char *const rel[] = {"/../lib/nts/" ATTACH_OBJECT, "/bpf/" ATTACH_OBJECT};
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	path[0] = 0;
	if (n <= 0)
		return;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, path))
			return;
	}
	path[0] = 0;
}

/* Tells a running ntsd to adopt the maps. */
static void notify_ntsd(struct ntsctl *c)
{
	json_t *res = NULL;
	char err[256];
	int rc = ctl_call(c->ctl_socket, "fastpath-adopt", NULL, 10000, &res, err, sizeof(err));
	const char *dir;

	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		printf("ntsd is not running: it adopts the maps when it starts (same --pin-dir)\n");
		return;
	}
	if (rc) {
		fprintf(stderr, "warning: ntsd did not adopt the maps: %s\n",
			rc == -EPROTO ? err : strerror(-rc));
		return;
	}
	dir = json_string_value(json_object_get(res, "pin_dir"));
	printf("ntsd adopted the maps and wrote its live channels and permissions\n");
	if (dir && strcmp(dir, c->pin_dir) != 0)
		fprintf(stderr, "warning: ntsd uses --pin-dir %s, not %s\n", dir, c->pin_dir);
	json_decref(res);
}

int cmd_attach(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"channels", required_argument, NULL, 'c'},
	    {"allocations", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	uint32_t channels = NTS_FP_DEFAULT_CHANNELS, allocs = NTS_FP_DEFAULT_ALLOCS;
	struct fastpath_attach_info info;
	bool skb = false, sized = false;
	char err[512], obj[PATH_MAX] = "";
	int o, rc;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (strcmp(optarg, "skb") != 0 && strcmp(optarg, "native") != 0) {
				attach_usage(stderr);
				return 2;
			}
			skb = strcmp(optarg, "skb") == 0;
			break;
		case 'c':
		case 'a':
			if (parse_u32(optarg, o == 'c' ? &channels : &allocs)) {
				attach_usage(stderr);
				return 2;
			}
			sized = true;
			break;
		case 'h':
			attach_usage(stdout);
			return 0;
		default:
			attach_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		attach_usage(stderr);
		return 2;
	}
	if (!sized)
		sizes_from_ntsd(c, &channels, &allocs);
	find_object(obj);
	if (!obj[0])
		printf("note: no %s in ../lib/nts/ or bpf/ next to ntsctl; loading the copy built "
		       "into ntsctl\n",
		       ATTACH_OBJECT);
	rc = fastpath_attach_file(obj[0] ? obj : NULL, c->pin_dir, argv[optind], skb, channels,
				  allocs, &info, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ntsctl attach: %s\n", err);
		return 1;
	}
	printf("attached %s (%s) to %s: %s mode, program id %u, %s%s%s; maps pinned under %s (%u "
	       "channels)\n",
	       NTS_FP_PROG_NAME, obj[0] ? obj : "built into ntsctl", info.ifname, info.mode,
	       info.prog_id,
	       info.legacy ? "legacy single-program attach (libxdp dispatcher unavailable: "
			   : "libxdp multiprog dispatcher",
	       info.legacy ? fastpath_legacy_reason() : "", info.legacy ? ")" : "", c->pin_dir,
	       info.channels);
	warn_forwarding(info.ifname);
	notify_ntsd(c);
	return 0;
}
