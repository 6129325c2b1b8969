/* Peer address policy for the TURN relay (issue 4 item 5, DESIGN.md): a secure default deny list
 * (loopback, unspecified, private, link-local, CGNAT, multicast, broadcast...) applied to the
 * address with any embedded IPv4 extracted, then the operator's --deny-peer (wins) and --allow-peer
 * rules.
 */
#ifndef NTS_TURN_POLICY_H
#define NTS_TURN_POLICY_H

#include <stdbool.h>

#include "util/addr.h"

struct turn_policy;

/* Builds the policy from operator rules on top of the secure default deny list (DESIGN.md). */
int turn_policy_create(struct turn_policy **out, const struct nts_cidr *allow, unsigned nallow,
		       const struct nts_cidr *deny, unsigned ndeny);
void turn_policy_destroy(struct turn_policy *p);
/* True when relaying to peer is allowed. */
bool turn_policy_allows(const struct turn_policy *p, const struct nts_addr *peer);
/* Canonical form: embedded IPv4 (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96,
 * IPv4-compatible ::/96 except ::/::1, 6to4 2002::/16, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
 * Teredo 2001::/32 client address) extracted to AF_INET. */
void turn_policy_canonical(const struct nts_addr *in, struct nts_addr *out);

#endif
