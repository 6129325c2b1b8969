/* Who a request is: HTTP Basic credentials resolved to an account, for the resources that take
 * them (see api_priv.h). Unknown sids and wrong secrets cost the same (store_account_verify).
 */
#include <errno.h>
#include <string.h>

#include "api/api_priv.h"
#include "store/store.h"
#include "util/log.h"

int api_auth_account(struct api_server *s, const struct api_request *rq, struct store_account *out,
		     struct api_response *rs)
{
	char user[64], pass[128];
	int err = api_parse_basic(rq->authorization, user, sizeof(user), pass, sizeof(pass));

	if (!err)
		err = store_account_verify(s->store, user, pass, out);
	else
		err = -EACCES;
	explicit_bzero(pass, sizeof(pass));
	if (err == -EACCES) {
		api_error(rs, 401, API_ERR_AUTHENTICATE, "Authenticate");
		rs->flags |= API_RESP_WWW_AUTHENTICATE;
	} else if (err == -EBUSY) {
		/* Another process holds the database: the loop does not wait for it (wire_api.c).
		 */
		api_error(rs, 503, API_ERR_UNAVAILABLE,
			  "Service unavailable: database busy, retry");
	} else if (err) {
		log_error("api: account lookup failed: %s", strerror(-err));
		api_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
	}
	return err;
}
