/* ntsctl entry point: global options, then a table of subcommands, one file each. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ntsctl/ntsctl.h"
#include "util/config.h"

static const struct {
	const char *name;
	int (*fn)(struct ntsctl *c, int argc, char **argv);
	const char *summary;
} subcommands[] = {
    {"attach", cmd_attach, "load the XDP fast path on DEV [--mode native|skb]"},
    {"detach", cmd_detach, "remove the XDP fast path from DEV"},
    {"status", cmd_status, "daemon and fast-path status"},
    {"stats", cmd_stats, "fast-path counters, summed over CPUs [--json]"},
    {"usage", cmd_usage, "usage per account [--account SID] [--daily|--monthly] [--json]"},
    {"fastpath", cmd_fastpath, "flush: remove every entry from the fast-path maps"},
    {"allocations", cmd_allocations, "list TURN allocations [--json]; delete ID"},
    {"account", cmd_account,
     "create [--parent SID]|list|suspend|activate|close|set accounts [--json]"},
    {"token", cmd_token, "create --account SID [--ttl N] [--json]"},
    {"diag-link", cmd_diag_link, "link to the connectivity test page [--account SID] [--ttl D]"},
    {"key", cmd_key, "create|list --account SID, delete SID: API keys [--json]"},
    {"reload", cmd_reload, "make ntsd read its configuration again; prints the outcome"},
    {"top", cmd_top, "live view: rates, busiest allocations, drops [--once]"},
    {"upgrade", cmd_upgrade,
     "hand over to a new ntsd binary without dropping calls [--binary PATH]"},
    {"fleet", cmd_fleet, "the nodes sharing the database: region, state, load [--json]"},
    {"drain", cmd_drain, "send new allocations to other nodes of the region [--wait]"},
    {"undrain", cmd_drain, "take new allocations again after a drain"},
    {"secret", cmd_secret, "rotate [--overlap D]: a new signing secret for the fleet"},
};

/* True when an ntsd listens on the control socket at path. */
static bool ctl_socket_alive(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/* `make run` keeps ntsd's control socket and database under ./var (tools/run.sh). Run from that
 * directory without --ctl-socket/--db, with no ntsd on the default socket (and no database at the
 * default path), ntsctl uses those, so the obvious `build/ntsctl status` finds the `make run`
 * daemon. */
static void use_make_run_paths(struct ntsctl *c, bool socket_given, bool db_given)
{
	static const char sock[] = "var/ntsd.sock", db[] = "var/nts.db";

	if (!socket_given && !ctl_socket_alive(c->ctl_socket) && ctl_socket_alive(sock))
		c->ctl_socket = sock;
	if (!db_given && access(c->db, F_OK) != 0 && access(db, F_OK) == 0)
		c->db = db;
}

static void usage(FILE *f, const struct nts_config *d)
{
	fprintf(
	    f, "usage: ntsctl [--ctl-socket PATH] [--pin-dir DIR] [--db PATH] SUBCOMMAND [ARGS]\n");
	fprintf(f, "defaults (ntsd's): --ctl-socket %s --pin-dir %s --db %s\n\n", d->ctl_socket,
		d->pin_dir, d->db);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(
	    f, "\nWithout --ctl-socket and --db, when no ntsd answers at the default socket (no\n"
	       "database at the default path), ./var/ntsd.sock (./var/nts.db) is used if present:\n"
	       "where `make run` keeps them.\n");
	fprintf(f, "\n'ntsctl SUBCOMMAND --help' describes each.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ctl-socket", required_argument, NULL, 'c'}, {"pin-dir", required_argument, NULL, 'p'},
	    {"db", required_argument, NULL, 'd'},	  {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},	  {0},
	};
	/* The same defaults as ntsd's --ctl-socket, --pin-dir and --db (the table in
	 * util/config.c). */
	static struct nts_config defaults;
	struct ntsctl c;
	bool socket_given = false, db_given = false;
	int o;

	nts_config_defaults(&defaults);
	c = (struct ntsctl){
	    .ctl_socket = defaults.ctl_socket,
	    .pin_dir = defaults.pin_dir,
	    .db = defaults.db,
	};

	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			c.ctl_socket = optarg;
			socket_given = true;
			break;
		case 'p':
			c.pin_dir = optarg;
			break;
		case 'd':
			c.db = optarg;
			db_given = true;
			break;
		case 'h':
			usage(stdout, &defaults);
			return 0;
		case 'V':
			printf("ntsctl %s\n", NTS_VERSION);
			return 0;
		default:
			usage(stderr, &defaults);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr, &defaults);
		return 2;
	}
	use_make_run_paths(&c, socket_given, db_given);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[optind], subcommands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 1; /* subcommands parse their own options with getopt */
			return subcommands[i].fn(&c, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "ntsctl: unknown subcommand '%s'\n", argv[optind]);
	usage(stderr, &defaults);
	return 2;
}
