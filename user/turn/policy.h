/* Peer address policy for the TURN relay: a secure default deny list (every special-purpose range
 * that is not globally reachable, loopback, private, link-local, multicast...), the host's own
 * addresses, then the operator's --deny-peer (wins) and --allow-peer rules, on the address and on
 * its canonical form (any embedded IPv4 extracted).
 */
#ifndef NTS_TURN_POLICY_H
#define NTS_TURN_POLICY_H

#include <stdbool.h>

#include "util/addr.h"

struct turn_policy;

/* Builds the policy from operator rules on top of the secure default deny list. */
int turn_policy_create(struct turn_policy **out, const struct nts_cidr *allow, unsigned nallow,
		       const struct nts_cidr *deny, unsigned ndeny);
void turn_policy_destroy(struct turn_policy *p);
/* Replaces the operator's rules, keeping the default list and the host's addresses. 0 or -ENOMEM
 * (the previous rules stay). */
int turn_policy_set_rules(struct turn_policy *p, const struct nts_cidr *allow, unsigned nallow,
			  const struct nts_cidr *deny, unsigned ndeny);
/* True when relaying to peer is allowed. */
bool turn_policy_allows(const struct turn_policy *p, const struct nts_addr *peer);
/* Replaces the host's own addresses wholesale: full-length entries are single addresses, shorter
 * ones whole prefixes (an address on a loopback device makes its prefix local). Only an
 * --allow-peer rule naming the address itself (/32, /128) lets a peer among them through. 0 or
 * -ENOMEM (the previous set is kept). */
int turn_policy_set_host_addrs(struct turn_policy *p, const struct nts_cidr *hosts, unsigned n);
/* True when peer (in any embedded form) is one of the host's own addresses. */
bool turn_policy_is_host(const struct turn_policy *p, const struct nts_addr *peer);
/* Canonical form: embedded IPv4 (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96,
 * IPv4-compatible ::/96 except ::/::1, 6to4 2002::/16, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
 * Teredo 2001::/32 client address) extracted to AF_INET. */
void turn_policy_canonical(const struct nts_addr *in, struct nts_addr *out);

#endif
