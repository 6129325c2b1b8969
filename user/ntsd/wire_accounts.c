/* Account decisions on live traffic: TURN keeps an in-memory account table (state and allocation
 * quota) so Allocate and Refresh never query the database. It is loaded from the store at start,
 * and the control commands that change an account (ntsctl account suspend|activate|close|set) and
 * the account API (POST /Accounts/{Sid}.json with Status) update it through the API's account
 * hook: a suspended or closed account loses its live allocations, kernel entries included, before
 * the command or request answers. A subaccount whose master is suspended or closed is suspended
 * with it (as at Twilio) and comes back with it.
 */
#include <string.h>

#include "api/api.h"
#include "ntsd/daemon.h"
#include "ntsd/workers.h"
#include "store/store.h"
#include "turn/turn.h"
#include "util/log.h"

static struct turn_account_policy wire_accounts_policy(const struct store_account *a)
{
	return (struct turn_account_policy){
	    .state = a->closed				  ? TURN_ACCOUNT_CLOSED
		     : a->suspended || a->owner_suspended ? TURN_ACCOUNT_SUSPENDED
							  : TURN_ACCOUNT_ACTIVE,
	    .max_allocations = a->max_allocations,
	    .max_bps = a->max_bps,
	};
}

/* Sets sid's policy in every worker's TURN: the allocations ended, or -errno. */
static int wire_accounts_set(struct ntsd *d, const char *sid, const struct turn_account_policy *p)
{
	int ended = 0;

	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w) {
		int rc = turn_account_set(w->turn, sid, p);

		if (rc < 0) {
			ended = rc;
			break;
		}
		ended += rc;
	}
	ntsd_workers_resume(d);
	return ended;
}

static void wire_accounts_changed(void *arg, const struct store_account *a)
{
	ntsd_account_apply(arg, a);
}

void ntsd_account_apply(struct ntsd *d, const struct store_account *a)
{
	struct turn_account_policy p = wire_accounts_policy(a);
	int ended = wire_accounts_set(d, a->sid, &p);

	if (ended < 0)
		log_error("account %s: cannot apply the change: %s", a->sid, strerror(-ended));
	else if (ended > 0)
		log_info("account %s %s: %d allocation%s ended", a->sid,
			 a->closed	? "closed"
			 : a->suspended ? "suspended"
					: "suspended with its master",
			 ended, ended == 1 ? "" : "s");
}

struct wire_accounts_load {
	struct ntsd *d;
	int err;
};

/* Only accounts that differ from the defaults take room in TURN's table. */
static int wire_accounts_load_one(void *arg, const struct store_account *a)
{
	struct wire_accounts_load *l = arg;
	struct turn_account_policy p = wire_accounts_policy(a);
	int rc;

	if (p.state == TURN_ACCOUNT_ACTIVE && !p.max_allocations && !p.max_bps)
		return 0;
	rc = wire_accounts_set(l->d, a->sid, &p);
	if (rc < 0)
		l->err = rc;
	return rc < 0;
}

int ntsd_wire_accounts(struct ntsd *d)
{
	struct wire_accounts_load l = {.d = d};
	int err;

	if (!d->store || !d->api)
		return 0;
	err = store_account_foreach(d->store, wire_accounts_load_one, &l);
	if (err || l.err)
		return err ? err : l.err;
	api_set_account_hook(d->api, wire_accounts_changed, d);
	return 0;
}
