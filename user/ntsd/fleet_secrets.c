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
#include "util/log.h"

struct fleet_secret_rows {
	struct store_signing_secret v[FLEET_MAX_SECRETS];
	size_t n;
};

/* Rows come oldest activation first: past FLEET_MAX_SECRETS the oldest make room. */
static int fleet_secret_row(void *arg, const struct store_signing_secret *k)
{
	struct fleet_secret_rows *r = arg;

	if (r->n == FLEET_MAX_SECRETS) {
		memmove(r->v, r->v + 1, (FLEET_MAX_SECRETS - 1) * sizeof(r->v[0]));
		r->n--;
	}
	r->v[r->n++] = *k;
	return 0;
}

int ntsd_fleet_load_secrets(struct ntsd *d, int64_t now, int64_t *next)
{
	struct fleet_secret_rows *r = calloc(1, sizeof(*r));
	const char *list[FLEET_MAX_SECRETS];
	size_t order[FLEET_MAX_SECRETS], n;
	int64_t when = 0;
	int err;

	if (!r)
		return -ENOMEM;
	err = store_signing_secret_ensure(d->store);
	if (!err)
		err = store_signing_secret_foreach(d->store, fleet_secret_row, r);
	if (!err) {
		n = fleet_secrets_order(r->v, r->n, now, order, &when);
		for (size_t i = 0; i < n; i++)
			list[i] = r->v[order[i]].secret;
		err = n ? auth_set_secrets(d->auth, list, n) : -ENOENT;
	}
	explicit_bzero(r, sizeof(*r));
	free(r);
	if (next)
		*next = when;
	return err;
}
