/* ntsd: parse options, build the daemon context, wire the modules onto one epoll loop, run until
 * SIGINT/SIGTERM (SIGHUP reloads the configuration: reload.c; SIGUSR2 upgrades: ntsd/upgrade.h),
 * telling systemd each step (notify.c). Exit status: 0 clean stop, 1 runtime failure, 2 usage
 * error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "ctl/ctl.h"
#include "ntsd/daemon.h"
#include "net/hostaddr.h"
#include "net/net.h"
#include "ntsd/ctl_cmds.h"
#include "ntsd/fleet.h"
#include "ntsd/notify.h"
#include "ntsd/options.h"
#include "ntsd/privs.h"
#include "ntsd/upgrade.h"
#include "ntsd/workers.h"
#include "turn/turn.h"
#include "util/log.h"

static void ntsd_on_signal(void *arg, int fd, uint32_t events)
{
	struct ntsd *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct ntsd_reload_result r;

			ntsd_reload(d, &r); /* logs its outcome */
			continue;
		}
		if (si.ssi_signo == SIGUSR2) {
			ntsd_upgrade_signal(d);
			continue;
		}
		log_info("stopping on %s", strsignal((int)si.ssi_signo));
		loop_stop(d->loop);
	}
}

/* Tells systemd (notify.c) that a reload (SIGHUP or `ntsctl reload`) starts or ended. */
static void ntsd_reload_notify(struct ntsd *d, bool starting)
{
	(void)d;
	if (starting)
		ntsd_notify_reloading();
	else
		ntsd_notify_ready("reloaded");
}

/* Blocks the stop/reload signals and delivers them through a signalfd on the loop. */
static int ntsd_signals(struct ntsd *d)
{
	sigset_t set;
	int fd, rc;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = loop_add(d->loop, fd, EPOLLIN, ntsd_on_signal, d);
	if (rc)
		close(fd);
	return rc ? rc : fd;
}

/* "udp 127.0.0.1:3478, tcp 127.0.0.1:3478" for the start line. */
static void ntsd_listeners_text(const struct ntsd *d, char *buf, size_t len)
{
	struct net_listener_info li[NET_MAX_LISTENERS];
	size_t n = net_listeners(d->net, li, sizeof(li) / sizeof(li[0])), off = 0;
	char a[NTS_ADDRSTRLEN];

	buf[0] = 0;
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s %s", i ? ", " : "",
					nts_transport_name(li[i].transport),
					nts_addr_fmt(&li[i].addr, a, sizeof(a), true));
}

/* Brings the modules up in dependency order; 0 or -errno (already logged). */
static int ntsd_start(struct ntsd *d)
{
	int rc = ntsd_wire_log(d);

	if (rc)
		return rc;
	d->auth = ntsd_auth_create(&d->cfg);
	if (!d->auth) {
		log_error("cannot set up authentication");
		return -ENOMEM;
	}
	rc = ntsd_workers_create(d); /* loops, listeners' servers and TURN: workers.h */
	if (rc)
		return rc;
	if (d->upgrade && (rc = ntsd_upgrade_adopt(d)) != 0)
		return rc; /* listeners, control socket, nonce key, allocations handed over */
	d->hostaddr = ntsd_workers_hostaddr(d); /* the host's own addresses: no peers */
	if (!d->hostaddr)
		return -EIO; /* logged */
	if (!d->ctl)
		d->ctl = ctl_server_create(d->loop, d->cfg.ctl_socket);
	if (!d->ctl)
		return errno ? -errno : -EIO; /* logged with the path and reason */
	rc = ntsd_ctl_register(d);
	if (rc)
		return rc;
	rc = ntsd_wire_api(d);
	if (rc) {
		log_error("cannot start the token API: %s", strerror(-rc));
		return rc;
	}
	/* The fleet first: the change counter it reads covers every account loaded next. */
	rc = ntsd_wire_fleet(d);
	if (rc) {
		log_error("cannot join the fleet: %s", strerror(-rc));
		return rc;
	}
	rc = ntsd_wire_accounts(d);
	if (rc) {
		log_error("cannot load the accounts: %s", strerror(-rc));
		return rc;
	}
	rc = ntsd_wire_usage(d);
	if (rc) {
		log_error("cannot meter usage: %s", strerror(-rc));
		return rc;
	}
	rc = ntsd_wire_fastpath(d);
	if (rc) {
		log_error("cannot set up the fast path: %s", strerror(-rc));
		return rc;
	}
	return ntsd_workers_listen(d);
}

/* --run-as: hands the control socket to the user (root can still connect) and switches to it.
 * The database, listeners and maps stay usable through the descriptors already open. */
static int ntsd_run_as(struct ntsd *d, const struct ntsd_privs *p)
{
	uint64_t keep = ntsd_privs_needed(&d->cfg, d->fastpath != NULL);
	char caps[96];
	int rc;

	if (chown(d->cfg.ctl_socket, p->uid, p->gid) < 0) {
		rc = -errno;
		log_error("--run-as: cannot hand %s to %s: %s", d->cfg.ctl_socket, p->name,
			  strerror(-rc));
		return rc;
	}
	rc = ntsd_privs_drop(p, keep);
	ntsd_privs_caps_text(keep, caps, sizeof(caps));
	if (rc) {
		log_error("--run-as %s: cannot drop privileges: %s%s", p->name, strerror(-rc),
			  rc == -EPERM ? " (ntsd must start as root)" : "");
		return rc;
	}
	log_info("running as %s (uid %u gid %u); capabilities kept: %s; no_new_privs set", p->name,
		 (unsigned)p->uid, (unsigned)p->gid, caps);
	return 0;
}

static void ntsd_stop(struct ntsd *d)
{
	ntsd_unwire_fastpath(d);
	ntsd_unwire_usage(d);
	ntsd_unwire_fleet(d);
	ntsd_unwire_api(d);
	net_hostaddr_destroy(d->hostaddr);
	ntsd_workers_destroy(d); /* closes streams first: TURN drops the allocations they owned */
	ctl_server_destroy(d->ctl);
	if (d->auth)
		auth_destroy(d->auth);
}

int main(int argc, char **argv)
{
	static struct ntsd d; /* the daemon context: large, lives for the whole process */
	struct nts_options opts;
	struct ntsd_privs privs;
	char err[512], listeners[1024];
	int rc, sigfd;

	/* Nothing ntsd creates (database, control socket, demo account) is for anyone else. */
	umask(077);
	nts_config_defaults(&d.cfg);
	rc = nts_options_parse(&d.cfg, &opts, argc, argv, err, sizeof(err));
	if (!rc && opts.help) {
		nts_options_usage(stdout);
		return 0;
	}
	if (!rc && opts.version) {
		printf("ntsd %s\n", NTS_VERSION);
		return 0;
	}
	if (!rc)
		rc = nts_options_resolve(&d.cfg, err, sizeof(err));
	if (!rc && d.cfg.run_as[0])
		rc = ntsd_privs_resolve(d.cfg.run_as, &privs, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ntsd: %s\nTry 'ntsd --help'.\n", err);
		return 2;
	}
	d.argc = argc;
	d.argv = argv;
	ntsd_log_apply(&d.cfg);
	if (opts.argv_secrets)
		log_warn(
		    "--secret/--user on the command line: every local user can read it in "
		    "/proc/PID/cmdline; use --secret-file/--user-file or --config (mode 0600)");
	d.demo = opts.demo;
	d.start_unix = (uint64_t)time(NULL);
	d.reload_hook = ntsd_reload_notify;
	if (ntsd_upgrade_init(&d))
		log_warn("cannot resolve /proc/self/exe: upgrades need --binary");
	if (ntsd_upgrade_receive(&d))
		return 1; /* logged; the ntsd that started this one keeps serving */
	d.loop = loop_create();
	if (!d.loop) {
		log_error("cannot create the event loop: %s", strerror(errno));
		return 1;
	}
	sigfd = ntsd_signals(&d);
	if (sigfd < 0) {
		log_error("cannot set up signals: %s", strerror(-sigfd));
		loop_destroy(d.loop);
		return 1;
	}
	rc = ntsd_start(&d);
	/* Started by an upgrade of an ntsd that already runs as that user: nothing to drop. */
	if (rc == 0 && d.cfg.run_as[0] && !(d.upgrade && getuid() == privs.uid))
		rc = ntsd_run_as(&d, &privs);
	if (d.upgrade)
		ntsd_upgrade_finish(&d, rc); /* returns only when this ntsd takes over */
	if (rc == 0)
		rc = ntsd_workers_start(&d); /* relay threads, with the privileges left */
	if (rc == 0)
		rc = ntsd_notify_start(&d);
	if (rc == 0) {
		ntsd_listeners_text(&d, listeners, sizeof(listeners));
		log_info("started nts/%s: %s; realm %s; control socket %s", NTS_VERSION, listeners,
			 d.cfg.realm, d.cfg.ctl_socket);
		ntsd_notify_ready(listeners);
		rc = loop_run(d.loop);
		if (rc)
			log_error("event loop failed: %s", strerror(-rc));
		ntsd_workers_stop(&d);
		/* Handed over by an upgrade: the new ntsd is the service now (MAINPID=). */
		if (!d.handed_over)
			ntsd_notify_stopping(rc ? "event loop failed" : "stopping");
	} else {
		log_error("start failed: %s", strerror(-rc));
		ntsd_notify_failed(rc);
	}
	ntsd_stop(&d);
	close(sigfd);
	loop_destroy(d.loop);
	if (rc == 0)
		log_info("stopped");
	return rc ? 1 : 0;
}
