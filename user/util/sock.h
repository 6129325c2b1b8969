/* Socket tuning shared by the listeners (user/net) and the relay sockets (user/turn): buffer
 * sizes past the kernel's default, so short scheduling delays do not overflow a busy UDP socket.
 */
#ifndef NTS_UTIL_SOCK_H
#define NTS_UTIL_SOCK_H

#include <stdint.h>

/* Sets SO_RCVBUF and SO_SNDBUF to bytes (0: leave the kernel's default); as root past
 * net.core.[rw]mem_max with the *FORCE variants. Returns 0 or the first -errno. */
int nts_sock_set_buffers(int fd, uint32_t bytes);

#endif
