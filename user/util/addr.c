/* Socket address helpers; see addr.h. */
#include "util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int nts_addr_parse(struct nts_addr *a, const char *s, bool allow_no_port)
{
	char host[64];
	const char *port_s = NULL;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = 0;
		if (close[1] == ':')
			port_s = close + 2;
		else if (close[1] != 0)
			return -EINVAL;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL; /* bare IPv6 without brackets: no port */
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = 0;
		if (colon)
			port_s = colon + 1;
	}
	if (inet_pton(AF_INET, host, a->ip) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->ip) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	if (port_s)
		return parse_port(port_s, &a->port);
	return allow_no_port ? 0 : -EINVAL;
}

const char *nts_addr_fmt(const struct nts_addr *a, char *buf, size_t len, bool with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family, a->ip, ip, sizeof(ip));
	if (!with_port)
		snprintf(buf, len, "%s", ip);
	else if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, len, "%s:%u", ip, a->port);
	return buf;
}

socklen_t nts_addr_to_sockaddr(const struct nts_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	memcpy(&sin6->sin6_addr, a->ip, 16);
	return sizeof(*sin6);
}

int nts_addr_from_sockaddr(struct nts_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		a->port = ntohs(sin->sin_port);
		memcpy(a->ip, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		a->port = ntohs(sin6->sin6_port);
		memcpy(a->ip, &sin6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

bool nts_addr_equal(const struct nts_addr *a, const struct nts_addr *b, bool with_port)
{
	if (a->family != b->family || (with_port && a->port != b->port))
		return false;
	return memcmp(a->ip, b->ip, nts_addr_iplen(a)) == 0;
}

bool nts_addr_is_any(const struct nts_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->ip, zero, nts_addr_iplen(a)) == 0;
}

uint64_t nts_addr_hash(const struct nts_addr *a, bool with_port, uint64_t seed)
{
	/* FNV-1a over the significant bytes, mixed with a per-process seed against hash flooding. */
	uint64_t h = 1469598103934665603ULL ^ seed;
	size_t n = nts_addr_iplen(a);

	for (size_t i = 0; i < n; i++)
		h = (h ^ a->ip[i]) * 1099511628211ULL;
	h = (h ^ a->family) * 1099511628211ULL;
	if (with_port) {
		h = (h ^ (a->port & 0xff)) * 1099511628211ULL;
		h = (h ^ (a->port >> 8)) * 1099511628211ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

int nts_cidr_parse(struct nts_cidr *c, const char *s)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	char *end;

	memset(c, 0, sizeof(*c));
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, c->base.ip) == 1)
		c->base.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, c->base.ip) == 1)
		c->base.family = AF_INET6;
	else
		return -EINVAL;
	prefix = nts_addr_iplen(&c->base) * 8;
	if (slash) {
		errno = 0;
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (errno || *end || v > prefix)
			return -EINVAL;
		prefix = v;
	}
	c->prefix = (uint8_t)prefix;
	return 0;
}

bool nts_cidr_contains(const struct nts_cidr *c, const struct nts_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (a->family != c->base.family)
		return false;
	if (memcmp(a->ip, c->base.ip, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((a->ip[full] & mask) != (c->base.ip[full] & mask))
			return false;
	}
	return true;
}
