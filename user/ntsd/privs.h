/* Least privilege for ntsd: --run-as USER[:GROUP] switches to that user once the sockets, the
 * database and the fast-path maps are open, keeping only the capabilities the running daemon still
 * uses, with no_new_privs set. See README "Security".
 */
#ifndef NTS_NTSD_PRIVS_H
#define NTS_NTSD_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/config.h"

struct ntsd_privs {
	uid_t uid;
	gid_t gid;
	char name[128]; /* "user:group" for the log */
};

/* Looks up --run-as USER[:GROUP] (GROUP defaults to USER's primary group; root is refused).
 * 0, or -EINVAL/-ENOENT with a one-line message in err. */
int ntsd_privs_resolve(const char *spec, struct ntsd_privs *p, char *err, size_t errlen);
/* The capabilities (a CAP_* bit mask) the daemon needs after the switch: CAP_NET_BIND_SERVICE when
 * relay ports below 1024 may be bound, CAP_BPF while the fast-path maps are in use. */
uint64_t ntsd_privs_needed(const struct nts_config *cfg, bool fastpath);
/* Switches the process to p keeping exactly keep (effective, permitted and bounding sets), clears
 * the inheritable and ambient sets and sets no_new_privs. Must run as root; 0 or -errno. */
int ntsd_privs_drop(const struct ntsd_privs *p, uint64_t keep);
/* "cap_bpf,cap_net_bind_service" or "none" for the log. */
void ntsd_privs_caps_text(uint64_t caps, char *buf, size_t len);

#endif
