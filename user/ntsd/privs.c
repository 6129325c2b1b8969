/* Dropping root after start (--run-as); see privs.h. Raw prctl/capset calls: the whole job is a
 * handful of system calls, so libcap would add a dependency without removing code.
 */
#include "ntsd/privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PRIVS_PWBUF 16384

int ntsd_privs_resolve(const char *spec, struct ntsd_privs *p, char *err, size_t errlen)
{
	char user[128], *buf = malloc(PRIVS_PWBUF);
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	if (ulen == 0 || ulen >= sizeof(user) || (colon && !colon[1])) {
		snprintf(err, errlen, "--run-as '%s' is not USER or USER:GROUP", spec);
		rc = -EINVAL;
		goto out;
	}
	memcpy(user, spec, ulen);
	user[ulen] = 0;
	if (getpwnam_r(user, &pw, buf, PRIVS_PWBUF, &pwr) != 0 || !pwr) {
		snprintf(err, errlen, "--run-as: no user '%s'", user);
		rc = -ENOENT;
		goto out;
	}
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	if (colon) {
		if (getgrnam_r(colon + 1, &gr, buf, PRIVS_PWBUF, &grr) != 0 || !grr) {
			snprintf(err, errlen, "--run-as: no group '%s'", colon + 1);
			rc = -ENOENT;
			goto out;
		}
		p->gid = gr.gr_gid;
	}
	if (p->uid == 0 || p->gid == 0) {
		snprintf(err, errlen, "--run-as %s: the user and group must not be root's", spec);
		rc = -EINVAL;
		goto out;
	}
	snprintf(p->name, sizeof(p->name), "%s", spec);
out:
	free(buf);
	return rc;
}

uint64_t ntsd_privs_needed(const struct nts_config *cfg, bool fastpath)
{
	uint64_t caps = 0;

	/* Listeners (and the API) are bound before the switch; only relay sockets are bound after
	 * it, on demand. */
	if (cfg->relay_port_min < 1024)
		caps |= 1ull << CAP_NET_BIND_SERVICE;
	/* Before Linux 6.5 every bpf() call, map updates on an open map included, needs CAP_BPF
	 * while unprivileged BPF is disabled (Debian's default). ntsd never attaches programs
	 * (ntsctl does), so CAP_NET_ADMIN is not needed. */
	if (fastpath)
		caps |= 1ull << CAP_BPF;
	return caps;
}

void ntsd_privs_caps_text(uint64_t caps, char *buf, size_t len)
{
	static const struct {
		int cap;
		const char *name;
	} names[] = {{CAP_NET_BIND_SERVICE, "cap_net_bind_service"}, {CAP_BPF, "cap_bpf"}};
	size_t off = 0;

	snprintf(buf, len, "none");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && off < len; i++)
		if (caps & (1ull << names[i].cap))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						names[i].name);
}

/* The highest capability this kernel knows. */
static int privs_cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

int ntsd_privs_drop(const struct ntsd_privs *p, uint64_t keep)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {{0}};
	uid_t r, e, s;
	int last = privs_cap_last();

	if (geteuid() != 0)
		return -EPERM;
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which setuid takes away. */
	for (int c = 0; c <= last; c++)
		if (!(keep & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* Keep the permitted set across setuid; the effective set is rebuilt by capset below. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(1, &p->gid) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0)
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Belt and braces: no way back to root. */
	if (getresuid(&r, &e, &s) < 0 || r != p->uid || e != p->uid || s != p->uid ||
	    setuid(0) == 0)
		return -EPERM;
	return 0;
}
