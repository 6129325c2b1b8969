/* Socket tuning and batched UDP sends shared by the listeners (user/net) and the relay sockets
 * (user/turn): buffer sizes past the kernel's default, and sendmmsg batches whose runs of
 * same-sized datagrams to one destination leave as one UDP_SEGMENT (GSO) message.
 */
#ifndef NTS_UTIL_SOCK_H
#define NTS_UTIL_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define NTS_UDP_SEND_MAX 64 /* messages per nts_udp_send_batch() call */

/* Whether the kernel can segment UDP (GSO) for us: unknown until probed, then yes or no. */
enum nts_udp_gso { NTS_GSO_UNKNOWN, NTS_GSO_YES, NTS_GSO_NO };

/* Sets SO_RCVBUF and SO_SNDBUF to bytes (0: leave the kernel's default); as root past
 * net.core.[rw]mem_max with the *FORCE variants. Returns 0 or the first -errno. */
int nts_sock_set_buffers(int fd, uint32_t bytes);

/* Sends msgs[0..n) (n <= NTS_UDP_SEND_MAX; one iovec each, msgs[i].msg_hdr.msg_iov == iov + i)
 * on the non-blocking UDP socket fd, merging runs of same-sized datagrams with equal address and
 * control data into GSO messages while *gso allows (probed on first use, cleared if the kernel
 * refuses). A full socket buffer drops the rest, as a router would; any other failing datagram
 * is skipped. Returns the datagrams sent. */
unsigned nts_udp_send_batch(int fd, struct mmsghdr *msgs, unsigned n, enum nts_udp_gso *gso);

#endif
