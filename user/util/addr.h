/* Socket address helpers: parse "ADDR:PORT" / "[V6]:PORT", format, compare, hash, CIDR match.
 * struct nts_addr is a compact, hashable form of an IPv4 or IPv6 transport address.
 */
#ifndef NTS_UTIL_ADDR_H
#define NTS_UTIL_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A transport address; family is AF_INET or AF_INET6; IPv4 lives in ip[0..3]; port in host order. */
struct nts_addr {
	uint8_t ip[16];
	uint16_t port;
	uint8_t family;
	uint8_t pad;
};

#define NTS_ADDRSTRLEN 56 /* "[ffff:...:ffff]:65535" plus NUL */

/* Parses "1.2.3.4:5", "[::1]:5", or (allow_no_port) a bare address with port 0. 0 or -EINVAL. */
int nts_addr_parse(struct nts_addr *a, const char *s, bool allow_no_port);
/* Formats as "1.2.3.4:5" or "[::1]:5" (port omitted when with_port is false); returns buf. */
const char *nts_addr_fmt(const struct nts_addr *a, char *buf, size_t len, bool with_port);
/* Converts to/from sockaddr_storage; to_sockaddr returns the sockaddr length. */
socklen_t nts_addr_to_sockaddr(const struct nts_addr *a, struct sockaddr_storage *ss);
int nts_addr_from_sockaddr(struct nts_addr *a, const struct sockaddr *sa);
/* True when family, ip and (if with_port) port are equal. */
bool nts_addr_equal(const struct nts_addr *a, const struct nts_addr *b, bool with_port);
/* True for the unspecified address of a's family (0.0.0.0 or ::): a wildcard bind, whose
 * packets leave from whatever source address the routing table picks. */
bool nts_addr_is_any(const struct nts_addr *a);
/* Hash of family, ip and (if with_port) port, seeded. */
uint64_t nts_addr_hash(const struct nts_addr *a, bool with_port, uint64_t seed);
/* Number of significant address bytes: 4 or 16. */
static inline size_t nts_addr_iplen(const struct nts_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

/* A CIDR prefix: "10.0.0.0/8", "fc00::/7", or a bare address (full length). */
struct nts_cidr {
	struct nts_addr base;
	uint8_t prefix;
};
int nts_cidr_parse(struct nts_cidr *c, const char *s);
/* True when a's address (same family) falls in c. */
bool nts_cidr_contains(const struct nts_cidr *c, const struct nts_addr *a);

#endif
