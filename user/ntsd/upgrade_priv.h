/* What the three parts of an upgrade share, private to user/ntsd/: the handover channel
 * (upgrade_xfer.c: messages on the SOCK_SEQPACKET socketpair, sockets passed with SCM_RIGHTS, the
 * stream in a memfd, the new binary started and, on failure, reaped), the state stream
 * (upgrade_state.c) and the handover that upgrade.c drives.
 */
#ifndef NTS_NTSD_UPGRADE_PRIV_H
#define NTS_NTSD_UPGRADE_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntsd/daemon.h"
#include "util/tlv.h"

/* A handover being taken (new side). */
struct ntsd_upgrade {
	int sock;
	int *fds;
	size_t nfds;
	uint8_t *taken; /* per fd: adopted by a module */
	uint8_t *buf;
	size_t len;
	int api_fd;
};

/* Socket table of the stream being written (old side). */
struct up_fdtab {
	int *fds;
	size_t n, cap, nshared;
};

/* Writes the whole state of d as a stream into b, with the sockets it names in ft (relay workers
 * parked). 0 or -errno. */
int ntsd_up_encode(struct ntsd *d, struct nts_tlv_buf *b, struct up_fdtab *ft);
/* Gives the fast path the kernel counters the old ntsd had folded (new side, before serving). */
void ntsd_up_restore_folded(struct ntsd *d);

/* Messages on the handover socket (SOCK_SEQPACKET, one per datagram). */
#define UP_MAGIC 0x5553544eu /* "NTSU" */
#define UP_FDS_PER_MSG 250   /* below SCM_MAX_FD (253) */
enum up_kind {
	UP_FDS = 1,   /* old -> new: arg sockets attached */
	UP_STATE = 2, /* old -> new: a memfd with the stream of arg bytes attached */
	UP_READY = 3, /* new -> old: rebuilt and ready, arg = its pid */
	UP_GO = 4,    /* old -> new: the old one has stopped for good; serve */
	UP_FAIL = 5,  /* new -> old: refused, arg = errno */
};
struct up_msg {
	uint32_t magic, kind;
	uint64_t arg;
};

/* Sends one message of kind with arg and nfds (at most UP_FDS_PER_MSG) sockets. 0 or -errno. */
int ntsd_up_send(int sock, enum up_kind kind, uint64_t arg, const int *fds, size_t nfds);
/* Waits up to deadline_ms (monotonic) for one message; its fds go to fds (room for UP_FDS_PER_MSG).
 * 0, -ETIMEDOUT, -EPIPE (the other side closed), -EPROTO. */
int ntsd_up_recv(int sock, uint64_t deadline_ms, struct up_msg *m, int *fds, size_t *nfds);
/* The stream in a memfd (it may be far larger than a socket buffer): the fd or -errno. */
int ntsd_up_memfd(const struct nts_tlv_buf *b);
/* Starts bin with d's command line and child_sock named in NTSD_UPGRADE_ENV, as a process that is
 * not this one's child: its pid, or -errno (exec's own error when bin cannot run). */
pid_t ntsd_up_spawn(struct ntsd *d, const char *bin, int child_sock);
/* Kills a new ntsd that failed and waits (at most 2 s) until it is gone; why gets what became
 * of it, if telling (nothing yet: its exit status is init's). */
void ntsd_up_reap(pid_t pid, char *why, size_t len);

#endif
