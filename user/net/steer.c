/* Relay workers share each UDP listen address through SO_REUSEPORT; bpf/reuseport.bpf.c picks the
 * worker of each datagram from the kernel's hash of its addresses and ports, so every request and
 * ChannelData of one client reaches the worker that holds its allocation; TCP and TLS connections
 * go by the client's address alone. See net.h.
 */
#include "net/net_priv.h"

#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "reuseport.skel.h"
#pragma GCC diagnostic pop
#include "util/log.h"

/* Loads one program instance for the group of socks[0..n) (worker i's socket at slot i) and
 * attaches it to the group (by_source: a TCP or TLS listener's, steered by client address). The
 * group keeps the program (and its map) once attached. */
static int steer_group(const int *socks, unsigned n, bool by_source)
{
	struct reuseport_bpf *skel = reuseport_bpf__open();
	int rc, prog;

	if (!skel)
		return -errno ? -errno : -ENOMEM;
	skel->rodata->nts_nworkers = n;
	rc = reuseport_bpf__load(skel);
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		uint64_t fd = (uint64_t)socks[i];

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.nts_workers), &i, &fd, BPF_ANY) < 0)
			rc = -errno;
	}
	prog = bpf_program__fd(by_source ? skel->progs.nts_reuseport_source
					 : skel->progs.nts_reuseport);
	if (rc == 0 &&
	    setsockopt(socks[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof(prog)) < 0)
		rc = -errno;
	reuseport_bpf__destroy(skel);
	return rc;
}

int net_steer_attach(struct net_server *const *nets, unsigned n)
{
	const struct net_server *first = nets[0];
	int socks[NTS_MAX_WORKERS];
	char buf[NTS_ADDRSTRLEN];
	int rc;

	if (n < 2 || n > NTS_MAX_WORKERS)
		return 0;
	for (unsigned i = 0; i < first->nudp + first->nalt_udp; i++) {
		bool alt = i >= first->nudp;
		unsigned k = alt ? i - first->nudp : i;

		for (unsigned w = 0; w < n; w++) {
			if ((alt ? nets[w]->nalt_udp : nets[w]->nudp) <= k)
				return -EINVAL;
			socks[w] = alt ? nets[w]->alt_udp[k]->fd : nets[w]->udp[k]->fd;
		}
		rc = steer_group(socks, n, false);
		if (rc) {
			log_warn(
			    "workers: cannot steer udp %s by client (%s): the kernel's hash "
			    "picks the worker",
			    nts_addr_fmt(alt ? &first->alt_udp[k]->local : &first->udp[k]->local,
					 buf, sizeof(buf), true),
			    strerror(-rc));
			return rc;
		}
	}
	/* TCP and TLS: by the client's address, so that a client's RFC 6062 data connections reach
	 * the worker of its control connection. */
	for (unsigned k = 0; k < first->ntcp; k++) {
		for (unsigned w = 0; w < n; w++) {
			if (nets[w]->ntcp <= k)
				return -EINVAL;
			socks[w] = nets[w]->tcp[k]->fd;
		}
		rc = steer_group(socks, n, true);
		if (rc) {
			log_warn(
			    "workers: cannot steer %s %s by client address (%s): RFC 6062 data "
			    "connections may miss their allocation",
			    nts_transport_name(first->tcp[k]->transport),
			    nts_addr_fmt(&first->tcp[k]->local, buf, sizeof(buf), true),
			    strerror(-rc));
			return rc;
		}
	}
	return 0;
}
