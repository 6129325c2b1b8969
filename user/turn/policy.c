/* Peer address policy; see policy.h. Order of decision: port 0 and non-IP families are refused; an
 * explicit --deny-peer rule matching the address or its canonical form refuses; an --allow-peer
 * rule matching either form allows; the default deny list (checked against both forms) refuses;
 * else allow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "turn/policy.h"

/* DESIGN.md "secure default peer policy". Embedded-IPv4 forms are caught through canonicalisation.
 */
static const char *const policy_default_deny[] = {
    "0.0.0.0/8",      /* "this network", includes 0.0.0.0 (RFC 1122) */
    "127.0.0.0/8",    /* loopback */
    "10.0.0.0/8",     /* RFC 1918 */
    "172.16.0.0/12",  /* RFC 1918 */
    "192.168.0.0/16", /* RFC 1918 */
    "100.64.0.0/10",  /* CGNAT shared space (RFC 6598) */
    "169.254.0.0/16", /* link-local, cloud metadata 169.254.169.254 */
    "192.0.0.0/24",   /* IETF protocol assignments (RFC 6890) */
    "224.0.0.0/4",    /* multicast */
    "240.0.0.0/4",    /* reserved, includes 255.255.255.255 broadcast */
    "::/128",	      /* unspecified */
    "::1/128",	      /* loopback */
    "fe80::/10",      /* link-local */
    "fc00::/7",	      /* unique local (RFC 4193) */
    "fec0::/10",      /* deprecated site-local (RFC 3879), still private where used */
    "ff00::/8",	      /* multicast */
    "64:ff9b:1::/48", /* local-use NAT64 (RFC 8215): site-specific, its embedding length unknown */
};
#define POLICY_NDEFAULT (sizeof(policy_default_deny) / sizeof(policy_default_deny[0]))

struct turn_policy {
	struct nts_cidr defaults[POLICY_NDEFAULT];
	struct nts_cidr *allow, *deny;
	unsigned nallow, ndeny;
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

void turn_policy_destroy(struct turn_policy *p)
{
	if (!p)
		return;
	free(p->allow);
	free(p->deny);
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
	if (rules_match(p->allow, p->nallow, peer, &canon))
		return true;
	return !rules_match(p->defaults, POLICY_NDEFAULT, peer, &canon);
}
