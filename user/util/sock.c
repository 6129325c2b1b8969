/* Socket tuning; see sock.h. */
#include "util/sock.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

/* The FORCE option ignores net.core.{r,w}mem_max but needs CAP_NET_ADMIN; without it the plain
 * option still raises the buffer up to that limit. */
static int sock_set_one(int fd, int force_opt, int opt, int v)
{
	if (!setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)))
		return 0;
	if (!setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)))
		return 0;
	return -errno;
}

int nts_sock_set_buffers(int fd, uint32_t bytes)
{
	/* The kernel doubles the value it is given (bookkeeping overhead): ask for half. */
	int v = bytes / 2 > INT_MAX ? INT_MAX : (int)(bytes / 2);
	int rc;

	if (!bytes)
		return 0;
	rc = sock_set_one(fd, SO_RCVBUFFORCE, SO_RCVBUF, v);
	if (!rc)
		rc = sock_set_one(fd, SO_SNDBUFFORCE, SO_SNDBUF, v);
	return rc;
}
