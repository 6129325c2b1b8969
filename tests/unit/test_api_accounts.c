/* The Account and Key resources through api_handle(): Twilio's account, key and page shapes,
 * paging, who may act on which account (masters, subaccounts, API keys), Status rules, the
 * account hook, and errors as Twilio's JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"
#include "auth/auth.h"
#include "store/store.h"

#define NOW ((uint64_t)1588297377) /* Fri, 01 May 2020 01:42:57 +0000 */
#define NOBODY "AC00000000000000000000000000000000"

struct fixture {
	char dir[64];
	struct nts_config cfg;
	struct nts_stats stats;
	struct nts_store *store;
	struct auth_ctx *auth;
	struct api_server *api;
	struct store_account master, sub, sibling;
	char master_basic[160], sub_basic[160];
	char hooked[8][STORE_SID_LEN + 1]; /* sids the account hook heard, in order */
	unsigned nhooked;
};

static void set_basic(char *out, size_t len, const char *user, const char *pass)
{
	char plain[128];
	unsigned char b64[200];

	snprintf(plain, sizeof(plain), "%s:%s", user, pass);
	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)strlen(plain));
	snprintf(out, len, "Basic %s", b64);
}

static void hook(void *arg, const struct store_account *a)
{
	struct fixture *f = arg;

	if (f->nhooked < 8)
		memcpy(f->hooked[f->nhooked++], a->sid, STORE_SID_LEN + 1);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *secrets[] = {"test-signing-secret"};
	char db[128], token[STORE_TOKEN_LEN + 1], sub_token[STORE_TOKEN_LEN + 1];

	strcpy(f->dir, "/tmp/nts-apiacct-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(db, sizeof(db), "%s/nts.db", f->dir);
	nts_addr_parse(&f->cfg.listen[0], "127.0.0.1:3478", false);
	f->cfg.nlisten = 1;
	if (store_open(db, &f->store) ||
	    store_account_create(f->store, "master", &f->master, token) ||
	    store_subaccount_create(f->store, f->master.sid, "sibling", &f->sibling, sub_token) ||
	    store_subaccount_create(f->store, f->master.sid, "sub2", &f->sub, sub_token))
		return -1;
	f->auth = auth_create("nts", secrets, 1, NULL, 0);
	f->api = api_create(&f->cfg, f->store, f->auth, &f->stats);
	if (!f->auth || !f->api)
		return -1;
	api_set_account_hook(f->api, hook, f);
	set_basic(f->master_basic, sizeof(f->master_basic), f->master.sid, token);
	set_basic(f->sub_basic, sizeof(f->sub_basic), f->sub.sid, sub_token);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	api_destroy(f->api);
	auth_destroy(f->auth);
	store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Sends a request (query may be NULL) and parses the JSON answer (NULL for an empty body). */
static json_t *call(struct fixture *f, const char *method, const char *path, const char *query,
		    const char *auth, const char *body, struct api_response *rs)
{
	struct api_request rq = {
	    .method = method,
	    .path = path,
	    .query = query,
	    .authorization = auth,
	    .content_type = body ? "application/x-www-form-urlencoded" : NULL,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	};
	json_t *j;

	api_handle(f->api, &rq, NOW, rs);
	j = rs->body ? json_loadb(rs->body, rs->body_len, 0, NULL) : NULL;
	api_response_free(rs);
	return j;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

/* Twilio's error body with this status and code; consumes j. */
static void assert_twilio_error(json_t *j, const struct api_response *rs, unsigned status, int code)
{
	assert_int_equal(rs->status, status);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 4);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), code);
	assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
	assert_non_null(json_object_get(j, "message"));
	assert_non_null(json_object_get(j, "more_info"));
	json_decref(j);
}

static void account_path(char *out, size_t len, const char *sid, const char *rest)
{
	snprintf(out, len, "/2010-04-01/Accounts/%s%s", sid, rest);
}

static void test_create_answers_twilios_account_object(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = {
	    "auth_token", "date_created", "date_updated",     "friendly_name", "owner_account_sid",
	    "sid",	  "status",	  "subresource_uris", "type",	       "uri"};
	struct api_response rs;
	char uri[96];
	json_t *j = call(f, "POST", "/2010-04-01/Accounts.json", NULL, f->master_basic,
			 "FriendlyName=Customer+%231&Unknown=ignored", &rs);

	assert_int_equal(rs.status, 201);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 10);
	for (size_t i = 0; i < 10; i++)
		assert_non_null(json_object_get(j, keys[i]));
	assert_true(store_sid_valid(str(j, "sid")));
	assert_int_equal(strlen(str(j, "auth_token")), STORE_TOKEN_LEN);
	assert_string_equal(str(j, "friendly_name"), "Customer #1");
	assert_string_equal(str(j, "owner_account_sid"), f->master.sid);
	assert_string_equal(str(j, "status"), "active");
	assert_string_equal(str(j, "type"), "Full");
	snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s.json", str(j, "sid"));
	assert_string_equal(str(j, "uri"), uri);
	assert_non_null(strstr(str(j, "date_created"), " +0000"));
	assert_true(json_is_object(json_object_get(j, "subresource_uris")));
	json_decref(j);
}

static void test_create_without_name_uses_twilios_default(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	json_t *j = call(f, "POST", "/2010-04-01/Accounts.json", NULL, f->master_basic, "", &rs);

	assert_int_equal(rs.status, 201);
	assert_string_equal(str(j, "friendly_name"), "SubAccount Created at 2020-05-01 01:42 am");
	json_decref(j);
}

static void test_fetch_never_shows_the_auth_token(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];
	json_t *j;

	account_path(path, sizeof(path), f->sub.sid, ".json");
	j = call(f, "GET", path, NULL, f->master_basic, NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_true(json_is_null(json_object_get(j, "auth_token")));
	assert_string_equal(str(j, "sid"), f->sub.sid);
	json_decref(j);
	/* Without .json it is the same resource. */
	account_path(path, sizeof(path), f->sub.sid, "");
	j = call(f, "GET", path, NULL, f->master_basic, NULL, &rs);
	assert_int_equal(rs.status, 200);
	json_decref(j);
}

static void test_list_is_twilios_page_and_pages_by_token(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = {"accounts",		"end",	 "first_page_uri",
					   "next_page_uri",	"page",	 "page_size",
					   "previous_page_uri", "start", "uri"};
	struct api_response rs;
	char want[160], query[160];
	const char *next;
	json_t *j =
	    call(f, "GET", "/2010-04-01/Accounts.json", "PageSize=2", f->master_basic, NULL, &rs);

	assert_int_equal(rs.status, 200);
	assert_int_equal(json_object_size(j), 9);
	for (size_t i = 0; i < 9; i++)
		assert_non_null(json_object_get(j, keys[i]));
	assert_int_equal(json_array_size(json_object_get(j, "accounts")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "page_size")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "start")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "end")), 1);
	assert_true(json_is_null(json_object_get(j, "previous_page_uri")));
	assert_string_equal(str(j, "first_page_uri"),
			    "/2010-04-01/Accounts.json?PageSize=2&Page=0");
	/* The master, then its subaccounts, oldest first. */
	snprintf(want, sizeof(want), "/2010-04-01/Accounts.json?PageSize=2&Page=1&PageToken=PA%s",
		 str(json_array_get(json_object_get(j, "accounts"), 1), "sid"));
	next = str(j, "next_page_uri");
	assert_string_equal(next, want);
	snprintf(query, sizeof(query), "%s", strchr(next, '?') + 1);
	json_decref(j);
	j = call(f, "GET", "/2010-04-01/Accounts.json", query, f->master_basic, NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "accounts")), 1);
	assert_string_equal(str(json_array_get(json_object_get(j, "accounts"), 0), "sid"),
			    f->sub.sid);
	assert_int_equal(json_integer_value(json_object_get(j, "page")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "start")), 2);
	assert_true(json_is_null(json_object_get(j, "next_page_uri")));
	assert_true(json_is_string(json_object_get(j, "previous_page_uri")));
	json_decref(j);
}

static void test_list_filters_keep_their_encoding_in_page_uris(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	json_t *j = call(f, "GET", "/2010-04-01/Accounts.json", "FriendlyName=sub2&Status=active",
			 f->master_basic, NULL, &rs);

	assert_int_equal(rs.status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "accounts")), 1);
	assert_string_equal(str(json_array_get(json_object_get(j, "accounts"), 0), "sid"),
			    f->sub.sid);
	assert_string_equal(str(j, "uri"), "/2010-04-01/Accounts.json?FriendlyName=sub2"
					   "&Status=active&PageSize=50&Page=0");
	json_decref(j);
	j = call(f, "GET", "/2010-04-01/Accounts.json", "FriendlyName=a+b%26c", f->master_basic,
		 NULL, &rs);
	assert_string_equal(str(j, "uri"),
			    "/2010-04-01/Accounts.json?FriendlyName=a%20b%26c&PageSize=50&Page=0");
	json_decref(j);
}

static void test_bad_paging_or_status_gets_400_20001(void **state)
{
	struct fixture *f = *state;
	static const char *const queries[] = {"PageSize=0",	"PageSize=1001",
					      "PageSize=x",	"Page=-1",
					      "PageToken=ZZ1",	("PageToken=PA" NOBODY),
					      "Status=deleted", "Status=active&Status=closed"};
	struct api_response rs;

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		assert_twilio_error(call(f, "GET", "/2010-04-01/Accounts.json", queries[i],
					 f->master_basic, NULL, &rs),
				    &rs, 400, API_ERR_INVALID_PARAM);
}

static void test_largest_page_size_is_served(void **state)
{
	struct fixture *f = *state;
	char secret[STORE_KEY_SECRET_LEN + 1], path[96];
	struct api_response rs;
	struct store_key k;
	json_t *j = call(f, "GET", "/2010-04-01/Accounts.json", "PageSize=1000", f->master_basic,
			 NULL, &rs);

	assert_int_equal(rs.status, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "page_size")), 1000);
	json_decref(j);
	/* With one row more than the page, the page knows of the next one. */
	for (int i = 0; i < 1001; i++)
		assert_int_equal(store_key_create(f->store, f->master.sid, "k", &k, secret), 0);
	account_path(path, sizeof(path), f->master.sid, "/Keys.json");
	j = call(f, "GET", path, "PageSize=1000", f->master_basic, NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 1000);
	assert_true(json_is_string(json_object_get(j, "next_page_uri")));
	json_decref(j);
}

static void test_subaccount_sees_only_itself(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];
	json_t *j = call(f, "GET", "/2010-04-01/Accounts.json", NULL, f->sub_basic, NULL, &rs);

	assert_int_equal(json_array_size(json_object_get(j, "accounts")), 1);
	json_decref(j);
	/* Twilio: subaccount credentials on the master are a 20003; siblings are invisible. */
	account_path(path, sizeof(path), f->master.sid, ".json");
	assert_twilio_error(call(f, "GET", path, NULL, f->sub_basic, NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	assert_true(rs.flags & API_RESP_WWW_AUTHENTICATE);
	account_path(path, sizeof(path), f->sibling.sid, ".json");
	assert_twilio_error(call(f, "GET", path, NULL, f->sub_basic, NULL, &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
	account_path(path, sizeof(path), f->sibling.sid, "/Keys.json");
	assert_twilio_error(call(f, "POST", path, NULL, f->sub_basic, "", &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
	account_path(path, sizeof(path), f->sibling.sid, "/Tokens.json");
	assert_twilio_error(call(f, "POST", path, NULL, f->sub_basic, "", &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
	assert_twilio_error(
	    call(f, "POST", "/2010-04-01/Accounts.json", NULL, f->sub_basic, "FriendlyName=x", &rs),
	    &rs, 400, API_ERR_NESTED);
}

static void test_master_mints_tokens_for_its_subaccount(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];
	json_t *j;

	account_path(path, sizeof(path), f->sub.sid, "/Tokens.json");
	j = call(f, "POST", path, NULL, f->master_basic, "", &rs);
	assert_int_equal(rs.status, 201);
	assert_string_equal(str(j, "account_sid"), f->sub.sid);
	json_decref(j);
}

/* Creates a key of sid with the master's credentials; sets basic to its credentials. */
static void new_key(struct fixture *f, const char *sid, char *key_sid, char *basic, size_t len)
{
	struct api_response rs;
	char path[96];
	json_t *j;

	account_path(path, sizeof(path), sid, "/Keys.json");
	j = call(f, "POST", path, NULL, f->master_basic, "FriendlyName=web", &rs);
	assert_int_equal(rs.status, 201);
	assert_int_equal(json_object_size(j), 5);
	assert_string_equal(str(j, "friendly_name"), "web");
	assert_non_null(json_object_get(j, "date_created"));
	assert_non_null(json_object_get(j, "date_updated"));
	strcpy(key_sid, str(j, "sid"));
	set_basic(basic, len, key_sid, str(j, "secret"));
	json_decref(j);
}

static void test_key_credentials_mint_tokens_but_manage_nothing(void **state)
{
	struct fixture *f = *state;
	char key_sid[40], basic[160], path[128];
	struct api_caller c;
	struct api_response rs;
	json_t *j;

	new_key(f, f->master.sid, key_sid, basic, sizeof(basic));
	assert_int_equal(api_auth_basic(f->api, basic, &c), 0);
	assert_true(c.via_key);
	assert_string_equal(c.key_sid, key_sid);
	assert_string_equal(c.account.sid, f->master.sid);
	assert_int_equal(api_auth_basic(f->api, f->master_basic, &c), 0);
	assert_false(c.via_key);

	account_path(path, sizeof(path), f->master.sid, "/Tokens.json");
	j = call(f, "POST", path, NULL, basic, "Ttl=60", &rs);
	assert_int_equal(rs.status, 201);
	assert_string_equal(str(j, "account_sid"), f->master.sid);
	json_decref(j);
	/* Not for the master's subaccounts (Twilio: a key reaches its own account only). */
	account_path(path, sizeof(path), f->sub.sid, "/Tokens.json");
	assert_twilio_error(call(f, "POST", path, NULL, basic, "", &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
	/* Never for account or key management (Twilio's Standard keys). */
	assert_twilio_error(call(f, "GET", "/2010-04-01/Accounts.json", NULL, basic, NULL, &rs),
			    &rs, 401, API_ERR_AUTHENTICATE);
	account_path(path, sizeof(path), f->master.sid, ".json");
	assert_twilio_error(call(f, "POST", path, NULL, basic, "FriendlyName=x", &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	account_path(path, sizeof(path), f->master.sid, "/Keys.json");
	assert_twilio_error(call(f, "GET", path, NULL, basic, NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Keys/%s.json", f->master.sid,
		 key_sid);
	assert_twilio_error(call(f, "DELETE", path, NULL, basic, NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
}

static void test_key_fetch_rename_delete(void **state)
{
	struct fixture *f = *state;
	char key_sid[40], basic[160], path[128], tokens[96];
	struct api_response rs;
	json_t *j;

	new_key(f, f->master.sid, key_sid, basic, sizeof(basic));
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Keys/%s.json", f->master.sid,
		 key_sid);
	j = call(f, "GET", path, NULL, f->master_basic, NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(json_object_size(j), 4); /* no secret after creation */
	json_decref(j);
	j = call(f, "POST", path, NULL, f->master_basic, "FriendlyName=renamed", &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(str(j, "friendly_name"), "renamed");
	json_decref(j);
	account_path(tokens, sizeof(tokens), f->master.sid, "/Keys.json");
	j = call(f, "GET", tokens, NULL, f->master_basic, NULL, &rs);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 1);
	assert_null(json_object_get(json_array_get(json_object_get(j, "keys"), 0), "secret"));
	json_decref(j);
	/* The key under another account's path is not found. */
	snprintf(tokens, sizeof(tokens), "/2010-04-01/Accounts/%s/Keys/%s.json", f->sub.sid,
		 key_sid);
	assert_twilio_error(call(f, "GET", tokens, NULL, f->master_basic, NULL, &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
	j = call(f, "DELETE", path, NULL, f->master_basic, NULL, &rs);
	assert_int_equal(rs.status, 204);
	assert_null(j);
	account_path(tokens, sizeof(tokens), f->master.sid, "/Tokens.json");
	assert_twilio_error(call(f, "POST", tokens, NULL, basic, "", &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	assert_twilio_error(call(f, "GET", path, NULL, f->master_basic, NULL, &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
}

static void test_status_changes_reach_the_hook_with_the_subaccounts(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];
	json_t *j;

	account_path(path, sizeof(path), f->sub.sid, ".json");
	j = call(f, "POST", path, NULL, f->master_basic, "Status=suspended", &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(str(j, "status"), "suspended");
	json_decref(j);
	assert_int_equal(f->nhooked, 1);
	assert_string_equal(f->hooked[0], f->sub.sid);
	/* Renaming alone changes nothing on live traffic. */
	j = call(f, "POST", path, NULL, f->master_basic, "FriendlyName=quiet", &rs);
	assert_int_equal(rs.status, 200);
	json_decref(j);
	assert_int_equal(f->nhooked, 1);
	/* A master closing itself: it and every subaccount. */
	account_path(path, sizeof(path), f->master.sid, ".json");
	j = call(f, "POST", path, NULL, f->master_basic, "Status=closed", &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(str(j, "status"), "closed");
	json_decref(j);
	assert_int_equal(f->nhooked, 1 + 3);
	assert_string_equal(f->hooked[1], f->master.sid);
}

static void test_closed_is_final_and_self_suspension_refused(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];
	json_t *j;

	account_path(path, sizeof(path), f->master.sid, ".json");
	assert_twilio_error(call(f, "POST", path, NULL, f->master_basic, "Status=suspended", &rs),
			    &rs, 400, API_ERR_INVALID_PARAM);
	account_path(path, sizeof(path), f->sub.sid, ".json");
	assert_twilio_error(call(f, "POST", path, NULL, f->master_basic, "Status=paused", &rs), &rs,
			    400, API_ERR_INVALID_PARAM);
	j = call(f, "POST", path, NULL, f->master_basic, "Status=closed", &rs);
	assert_int_equal(rs.status, 200);
	json_decref(j);
	assert_twilio_error(call(f, "POST", path, NULL, f->master_basic, "Status=active", &rs), &rs,
			    400, API_ERR_CLOSED);
	/* Closing again is harmless. */
	j = call(f, "POST", path, NULL, f->master_basic, "Status=closed", &rs);
	assert_int_equal(rs.status, 200);
	json_decref(j);
	/* The closed subaccount's own credentials are refused as not active. */
	assert_twilio_error(call(f, "GET", path, NULL, f->sub_basic, NULL, &rs), &rs, 403,
			    API_ERR_NOT_ACTIVE);
}

static void test_suspended_master_suspends_its_subaccounts_tokens(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];

	assert_int_equal(store_account_set_suspended(f->store, f->master.sid, true), 0);
	account_path(path, sizeof(path), f->sub.sid, "/Tokens.json");
	assert_twilio_error(call(f, "POST", path, NULL, f->sub_basic, "", &rs), &rs, 403,
			    API_ERR_NOT_ACTIVE);
}

static void test_unknown_account_and_methods(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[96];

	account_path(path, sizeof(path), NOBODY, ".json");
	assert_twilio_error(call(f, "GET", path, NULL, f->master_basic, NULL, &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
	assert_twilio_error(
	    call(f, "DELETE", "/2010-04-01/Accounts.json", NULL, f->master_basic, NULL, &rs), &rs,
	    405, API_ERR_METHOD);
	assert_string_equal(rs.allow, "GET, POST, OPTIONS");
	assert_twilio_error(call(f, "GET", "/2010-04-01/Accounts.json", NULL, NULL, NULL, &rs), &rs,
			    401, API_ERR_AUTHENTICATE);
}

static void test_page_json_indices_and_uris(void **state)
{
	struct api_page pg = {.size = 10, .number = 3, .after = ""};
	json_t *items = json_pack("[{}, {}]");
	json_t *j = api_page_json("/x.json", "A=b", &pg, "things", items, NULL);

	assert_int_equal(json_integer_value(json_object_get(j, "start")), 30);
	assert_int_equal(json_integer_value(json_object_get(j, "end")), 31);
	assert_string_equal(str(j, "previous_page_uri"), "/x.json?A=b&PageSize=10&Page=2");
	assert_string_equal(str(j, "first_page_uri"), "/x.json?A=b&PageSize=10&Page=0");
	assert_true(json_is_null(json_object_get(j, "next_page_uri")));
	json_decref(j);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_create_answers_twilios_account_object),
	    T(test_create_without_name_uses_twilios_default),
	    T(test_fetch_never_shows_the_auth_token),
	    T(test_list_is_twilios_page_and_pages_by_token),
	    T(test_list_filters_keep_their_encoding_in_page_uris),
	    T(test_bad_paging_or_status_gets_400_20001),
	    T(test_largest_page_size_is_served),
	    T(test_subaccount_sees_only_itself),
	    T(test_master_mints_tokens_for_its_subaccount),
	    T(test_key_credentials_mint_tokens_but_manage_nothing),
	    T(test_key_fetch_rename_delete),
	    T(test_status_changes_reach_the_hook_with_the_subaccounts),
	    T(test_closed_is_final_and_self_suspension_refused),
	    T(test_suspended_master_suspends_its_subaccounts_tokens),
	    T(test_unknown_account_and_methods),
	    cmocka_unit_test(test_page_json_indices_and_uris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
