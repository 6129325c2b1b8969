/* Peer address policy; see policy.h. Order of decision: port 0 and non-IP families are refused; an
 * explicit --deny-peer rule matching the address or its canonical form refuses; a host address
 * is refused unless an --allow-peer rule names exactly it; an --allow-peer rule matching either
 * form allows; the default deny list (checked against both forms, minus its exceptions) refuses;
 * else allow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "turn/policy.h"

/* The IANA IPv4 and IPv6 special-purpose address registries (RFC 6890) entries that are not
 * globally reachable, plus multicast and deprecated site-local. Embedded-IPv4 forms (mapped,
 * compatible, translated, 6to4, NAT64, Teredo) are caught through canonicalisation. */
static const char *const policy_default_deny[] = {
    "0.0.0.0/8",       /* "this network", includes 0.0.0.0 (RFC 791, RFC 1122) */
    "10.0.0.0/8",      /* private (RFC 1918) */
    "100.64.0.0/10",   /* CGNAT shared space (RFC 6598) */
    "127.0.0.0/8",     /* loopback (RFC 1122) */
    "169.254.0.0/16",  /* link-local, cloud metadata 169.254.169.254 (RFC 3927) */
    "172.16.0.0/12",   /* private (RFC 1918) */
    "192.0.0.0/24",    /* IETF protocol assignments; its anycast ones reach local servers */
    "192.0.2.0/24",    /* documentation TEST-NET-1 (RFC 5737) */
    "192.88.99.0/24",  /* deprecated 6to4 relay anycast (RFC 7526), 6a44 (RFC 6751) */
    "192.168.0.0/16",  /* private (RFC 1918) */
    "198.18.0.0/15",   /* benchmarking (RFC 2544) */
    "198.51.100.0/24", /* documentation TEST-NET-2 (RFC 5737) */
    "203.0.113.0/24",  /* documentation TEST-NET-3 (RFC 5737) */
    "224.0.0.0/4",     /* multicast (RFC 5771) */
    "240.0.0.0/4",     /* reserved (RFC 1112), includes 255.255.255.255 broadcast (RFC 919) */
    "::/128",	       /* unspecified (RFC 4291) */
    "::1/128",	       /* loopback (RFC 4291) */
    "64:ff9b:1::/48",  /* local-use NAT64 (RFC 8215): site-specific, its embedding length unknown */
    "100::/64",	       /* discard-only (RFC 6666) */
    "100:0:0:1::/64",  /* dummy prefix (RFC 9780) */
    "2001::/23",       /* IETF protocol assignments (RFC 2928), minus the exceptions below */
    "2001:db8::/32",   /* documentation (RFC 3849) */
    "3fff::/20",       /* documentation (RFC 9637) */
    "5f00::/16",       /* segment routing SIDs (RFC 9602) */
    "fc00::/7",	       /* unique local (RFC 4193) */
    "fe80::/10",       /* link-local (RFC 4291) */
    "fec0::/10",       /* deprecated site-local (RFC 3879), still private where used */
    "ff00::/8",	       /* multicast (RFC 4291) */
};
#define POLICY_NDEFAULT (sizeof(policy_default_deny) / sizeof(policy_default_deny[0]))

/* Globally reachable blocks inside 2001::/23 (IANA IPv6 special-purpose registry). The anycast
 * addresses of 2001:1::/48 (PCP, TURN, DNS-SD SRP) are not among them: the nearest such server is
 * usually on the relay's own network. */
static const char *const policy_default_except[] = {
    "2001::/32",       /* Teredo (RFC 4380): judged by its client IPv4 (canonical form) */
    "2001:3::/32",     /* AMT (RFC 7450) */
    "2001:4:112::/48", /* AS112-v6 (RFC 7535) */
    "2001:20::/28",    /* ORCHIDv2 (RFC 7343) */
    "2001:30::/28",    /* drone remote ID DETs (RFC 9374) */
};
#define POLICY_NEXCEPT (sizeof(policy_default_except) / sizeof(policy_default_except[0]))

struct turn_policy {
	struct nts_cidr defaults[POLICY_NDEFAULT];
	struct nts_cidr except[POLICY_NEXCEPT];
	struct nts_cidr *allow, *deny;
	unsigned nallow, ndeny;
	struct nts_addr *host;	    /* canonical, port 0, sorted: binary search */
	struct nts_cidr *host_nets; /* prefixes local as a whole (loopback devices) */
	unsigned nhost, nhost_nets;
};

static int copy_rules(struct nts_cidr **out, const struct nts_cidr *rules, unsigned n)
{
	*out = NULL;
	if (n == 0)
		return 0;
	if (!rules)
		return -EINVAL;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, rules, n * sizeof(**out));
	return 0;
}

int turn_policy_create(struct turn_policy **out, const struct nts_cidr *allow, unsigned nallow,
		       const struct nts_cidr *deny, unsigned ndeny)
{
	struct turn_policy *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < POLICY_NDEFAULT; i++) {
		err = nts_cidr_parse(&p->defaults[i], policy_default_deny[i]);
		if (err)
			goto fail;
	}
	for (size_t i = 0; i < POLICY_NEXCEPT; i++) {
		err = nts_cidr_parse(&p->except[i], policy_default_except[i]);
		if (err)
			goto fail;
	}
	err = copy_rules(&p->allow, allow, nallow);
	if (err)
		goto fail;
	p->nallow = nallow;
	err = copy_rules(&p->deny, deny, ndeny);
	if (err)
		goto fail;
	p->ndeny = ndeny;
	*out = p;
	return 0;
fail:
	turn_policy_destroy(p);
	return err;
}

int turn_policy_set_rules(struct turn_policy *p, const struct nts_cidr *allow, unsigned nallow,
			  const struct nts_cidr *deny, unsigned ndeny)
{
	struct nts_cidr *a, *d;
	int err = copy_rules(&a, allow, nallow);

	if (err)
		return err;
	err = copy_rules(&d, deny, ndeny);
	if (err) {
		free(a);
		return err;
	}
	free(p->allow);
	free(p->deny);
	p->allow = a;
	p->nallow = nallow;
	p->deny = d;
	p->ndeny = ndeny;
	return 0;
}

void turn_policy_destroy(struct turn_policy *p)
{
	if (!p)
		return;
	free(p->allow);
	free(p->deny);
	free(p->host);
	free(p->host_nets);
	free(p);
}

static void set_v4(struct nts_addr *out, const struct nts_addr *in, const uint8_t *v4, bool invert)
{
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	out->port = in->port;
	for (int i = 0; i < 4; i++)
		out->ip[i] = invert ? (uint8_t)~v4[i] : v4[i];
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

void turn_policy_canonical(const struct nts_addr *in, struct nts_addr *out)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t siit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};
	const uint8_t *ip = in->ip;

	*out = *in;
	if (in->family != AF_INET6)
		return;
	if (memcmp(ip, mapped, 12) == 0 || memcmp(ip, siit, 12) == 0 ||
	    memcmp(ip, nat64, 12) == 0) {
		/* IPv4-mapped (RFC 4291 §2.5.5.2), IPv4-translated (RFC 2765), NAT64 well-known /96
		 */
		set_v4(out, in, ip + 12, false);
	} else if (all_zero(ip, 12)) {
		/* IPv4-compatible (RFC 4291 §2.5.5.1); :: and ::1 are themselves, not
		 * 0.0.0.0/0.0.0.1 */
		if (!all_zero(ip + 12, 3) || ip[15] > 1)
			set_v4(out, in, ip + 12, false);
	} else if (ip[0] == 0x20 && ip[1] == 0x02) {
		set_v4(out, in, ip + 2, false); /* 6to4 (RFC 3056): 2002:AABB:CCDD::/48 */
	} else if (memcmp(ip, nat64_local, 6) == 0) {
		/* RFC 8215 local-use prefix: assume the common /96 embedding (RFC 6052 §2.2) */
		set_v4(out, in, ip + 12, false);
	} else if (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0 && ip[3] == 0) {
		set_v4(out, in, ip + 12,
		       true); /* Teredo (RFC 4380 §4): client IPv4, bits inverted */
	}
}

static bool rules_match(const struct nts_cidr *rules, size_t n, const struct nts_addr *a,
			const struct nts_addr *canon)
{
	for (size_t i = 0; i < n; i++)
		if (nts_cidr_contains(&rules[i], a) || nts_cidr_contains(&rules[i], canon))
			return true;
	return false;
}

static int host_cmp(const void *a, const void *b)
{
	const struct nts_addr *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->ip, y->ip, sizeof(x->ip));
}

/* The canonical address of a full-length host entry, port 0, zeroed beyond its length. */
static void host_key(const struct nts_addr *in, struct nts_addr *out)
{
	struct nts_addr a = *in;

	a.port = 0;
	turn_policy_canonical(&a, out);
	out->port = 0;
	out->pad = 0;
	if (out->family == AF_INET)
		memset(out->ip + 4, 0, sizeof(out->ip) - 4);
}

int turn_policy_set_host_addrs(struct turn_policy *p, const struct nts_cidr *hosts, unsigned n)
{
	struct nts_addr *host = NULL;
	struct nts_cidr *nets = NULL;
	unsigned nhost = 0, nnets = 0;

	if (n) {
		host = calloc(n, sizeof(*host));
		nets = calloc(n, sizeof(*nets));
		if (!host || !nets) {
			free(host);
			free(nets);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (hosts[i].base.family != AF_INET && hosts[i].base.family != AF_INET6)
			continue;
		if (hosts[i].prefix >= nts_addr_iplen(&hosts[i].base) * 8)
			host_key(&hosts[i].base, &host[nhost++]);
		else
			nets[nnets++] = hosts[i];
	}
	if (nhost)
		qsort(host, nhost, sizeof(*host), host_cmp);
	free(p->host);
	free(p->host_nets);
	p->host = host;
	p->nhost = nhost;
	p->host_nets = nets;
	p->nhost_nets = nnets;
	return 0;
}

bool turn_policy_is_host(const struct turn_policy *p, const struct nts_addr *peer)
{
	struct nts_addr key;

	if (!p || !peer)
		return false;
	host_key(peer, &key);
	if (p->nhost && bsearch(&key, p->host, p->nhost, sizeof(*p->host), host_cmp))
		return true;
	return rules_match(p->host_nets, p->nhost_nets, peer, &key);
}

/* An --allow-peer rule that names exactly this address (/32 or /128), in either form. */
static bool named_exactly(const struct turn_policy *p, const struct nts_addr *a,
			  const struct nts_addr *canon)
{
	for (unsigned i = 0; i < p->nallow; i++) {
		const struct nts_cidr *r = &p->allow[i];

		if (r->prefix == nts_addr_iplen(&r->base) * 8 &&
		    (nts_cidr_contains(r, a) || nts_cidr_contains(r, canon)))
			return true;
	}
	return false;
}

/* In the default deny list and in none of its exceptions. */
static bool default_denies(const struct turn_policy *p, const struct nts_addr *a)
{
	for (size_t i = 0; i < POLICY_NEXCEPT; i++)
		if (nts_cidr_contains(&p->except[i], a))
			return false;
	for (size_t i = 0; i < POLICY_NDEFAULT; i++)
		if (nts_cidr_contains(&p->defaults[i], a))
			return true;
	return false;
}

bool turn_policy_allows(const struct turn_policy *p, const struct nts_addr *peer)
{
	struct nts_addr canon;

	if (!p || !peer || peer->port == 0)
		return false;
	if (peer->family != AF_INET && peer->family != AF_INET6)
		return false;
	turn_policy_canonical(peer, &canon);
	if (rules_match(p->deny, p->ndeny, peer, &canon))
		return false;
	/* The host's own addresses reach services a firewall hides from the internet but accepts
	 * locally; a wider allowed prefix is no reason to relay to them. */
	if (turn_policy_is_host(p, peer))
		return named_exactly(p, peer, &canon);
	if (rules_match(p->allow, p->nallow, peer, &canon))
		return true;
	return !(default_denies(p, peer) || default_denies(p, &canon));
}
