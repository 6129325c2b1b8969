/* Signing secrets from the database (docs/fleet.md, "Rotating the secret"): a secret that
 * `ntsctl secret rotate` stores verifies on every node as soon as the node polls it (within
 * FLEET_HEARTBEAT_S), and signs only from its activation time, which the rotation sets far
 * enough ahead for every node to have it; the old secret verifies until its last token expired.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "ntsd/fleet.h"
#include "ntsd/workers.h"

int ntsd_fleet_load_secrets(struct ntsd *d, int64_t now, int64_t *next)
{
	struct store_signing_secret *k = calloc(STORE_SIGNING_SECRETS_MAX, sizeof(*k));
	const char *list[STORE_SIGNING_SECRETS_MAX];
	size_t order[STORE_SIGNING_SECRETS_MAX], nk = 0, n;
	int64_t when = 0;
	int err;

	if (!k)
		return -ENOMEM;
	err = store_signing_secret_ensure(d->store);
	if (!err)
		err = store_signing_secret_load(d->store, k, &nk);
	if (!err) {
		n = store_signing_secret_order(k, nk, now, order, &when);
		for (size_t i = 0; i < n; i++)
			list[i] = k[order[i]].secret;
		err = n ? ntsd_auth_set_secrets(d, list, n) : -ENOENT;
	}
	explicit_bzero(k, STORE_SIGNING_SECRETS_MAX * sizeof(*k));
	free(k);
	if (next)
		*next = when;
	return err;
}
