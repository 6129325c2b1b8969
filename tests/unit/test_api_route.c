/* Token API routing and answers: Twilio's token shape and types, every error, CORS, /metrics,
 * ICE URL lists, and the account/token commands shared with the control socket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "auth/auth.h"
#include "store/store.h"

#define NOW ((uint64_t)1588297377) /* Fri, 01 May 2020 01:42:57 +0000 */
#define SECRET "test-signing-secret"

struct fixture {
	char dir[64];
	struct nts_config cfg;
	struct nts_stats stats;
	struct nts_store *store;
	struct auth_ctx *auth;
	struct api_server *api;
	struct store_account acct, other;
	char token[STORE_TOKEN_LEN + 1], other_token[STORE_TOKEN_LEN + 1];
	char path[128], basic[160];
};

static void set_basic(char *out, size_t len, const char *user, const char *pass)
{
	char plain[128];
	unsigned char b64[200];

	snprintf(plain, sizeof(plain), "%s:%s", user, pass);
	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)strlen(plain));
	snprintf(out, len, "Basic %s", b64);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *secrets[] = {SECRET};
	char db[128];

	strcpy(f->dir, "/tmp/nts-api-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(db, sizeof(db), "%s/nts.db", f->dir);
	nts_addr_parse(&f->cfg.listen[0], "127.0.0.1:3478", false);
	f->cfg.nlisten = 1;
	strcpy(f->cfg.ice_host, "turn.example.test");
	if (store_open(db, &f->store) ||
	    store_account_create(f->store, "main", &f->acct, f->token) ||
	    store_account_create(f->store, "other", &f->other, f->other_token))
		return -1;
	f->auth = auth_create("nts", secrets, 1, NULL, 0);
	f->api = api_create(&f->cfg, f->store, f->auth, &f->stats);
	if (!f->auth || !f->api)
		return -1;
	snprintf(f->path, sizeof(f->path), "/2010-04-01/Accounts/%s/Tokens.json", f->acct.sid);
	set_basic(f->basic, sizeof(f->basic), f->acct.sid, f->token);
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

/* Sends a request and parses the JSON answer (NULL for an empty body). */
static json_t *call(struct fixture *f, const char *method, const char *path, const char *auth,
		    const char *body, struct api_response *rs)
{
	struct api_request rq = {
	    .method = method,
	    .path = path,
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

/* Checks Twilio's error body: exactly code, message, more_info, status. */
static void assert_twilio_error(json_t *j, const struct api_response *rs, unsigned status, int code)
{
	char more[64];

	assert_int_equal(rs->status, status);
	assert_string_equal(rs->content_type, "application/json; charset=utf-8");
	assert_true(rs->flags & API_RESP_CORS);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 4);
	assert_true(json_is_integer(json_object_get(j, "code")));
	assert_int_equal(json_integer_value(json_object_get(j, "code")), code);
	assert_true(json_is_integer(json_object_get(j, "status")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
	assert_true(json_is_string(json_object_get(j, "message")));
	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", code);
	assert_string_equal(json_string_value(json_object_get(j, "more_info")), more);
	json_decref(j);
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void test_token_has_exactly_twilios_fields_and_types(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = {"account_sid", "date_created", "date_updated",
					   "ice_servers", "password",	  "ttl",
					   "username"};
	struct api_response rs;
	json_t *j = call(f, "POST", f->path, f->basic, "", &rs);

	assert_int_equal(rs.status, 201);
	assert_string_equal(rs.content_type, "application/json; charset=utf-8");
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 7);
	for (size_t i = 0; i < 7; i++)
		assert_non_null(json_object_get(j, keys[i]));
	assert_string_equal(str(j, "account_sid"), f->acct.sid);
	assert_string_equal(str(j, "date_created"), "Fri, 01 May 2020 01:42:57 +0000");
	assert_string_equal(str(j, "date_updated"), "Fri, 01 May 2020 01:42:57 +0000");
	assert_string_equal(str(j, "ttl"), "86400"); /* a string, as Twilio sends it */
	assert_true(json_is_array(json_object_get(j, "ice_servers")));
	json_decref(j);
}

static void test_credentials_follow_the_turn_rest_scheme(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char want_user[128];
	unsigned char mac[20], want_pass[64];
	unsigned int mac_len = 0;
	json_t *j = call(f, "POST", f->path, f->basic, "Ttl=600", &rs);

	assert_int_equal(rs.status, 201);
	/* docs/architecture.md "Credentials": username "<unix-expiry>:<AccountSid>", password
	 * base64(HMAC-SHA1(secret, u)).
	 */
	snprintf(want_user, sizeof(want_user), "%" PRIu64 ":%s", NOW + 600, f->acct.sid);
	assert_string_equal(str(j, "username"), want_user);
	HMAC(EVP_sha1(), SECRET, strlen(SECRET), (const unsigned char *)want_user,
	     strlen(want_user), mac, &mac_len);
	EVP_EncodeBlock(want_pass, mac, (int)mac_len);
	assert_string_equal(str(j, "password"), (const char *)want_pass);
	assert_string_equal(str(j, "ttl"), "600");
	json_decref(j);
}

static void test_ice_servers_in_twilio_order_with_url_and_urls(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = {"stun:turn.example.test:3478",
					   "turn:turn.example.test:3478?transport=udp",
					   "turn:turn.example.test:3478?transport=tcp"};
	struct api_response rs;
	json_t *j = call(f, "POST", f->path, f->basic, NULL, &rs), *servers, *e;
	size_t i;

	servers = json_object_get(j, "ice_servers");
	assert_int_equal(json_array_size(servers), 3); /* no 443, no TLS listener configured */
	json_array_foreach(servers, i, e)
	{
		assert_string_equal(str(e, "url"), want[i]);
		assert_string_equal(str(e, "urls"), want[i]);
		if (i == 0) {
			assert_null(json_object_get(e, "username"));
			assert_null(json_object_get(e, "credential"));
			assert_int_equal(json_object_size(e), 2);
		} else {
			assert_string_equal(str(e, "username"), str(j, "username"));
			assert_string_equal(str(e, "credential"), str(j, "password"));
			assert_int_equal(json_object_size(e), 4);
		}
	}
	json_decref(j);
}

static void test_ice_urls_list_443_and_turns_only_when_listening(void **state)
{
	struct nts_config cfg;
	struct api_ice_urls u;

	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.ice_host, "[2001:db8::1]");
	nts_addr_parse(&cfg.listen[0], "[::]:3478", false);
	nts_addr_parse(&cfg.listen[1], "0.0.0.0:3478", false);
	nts_addr_parse(&cfg.listen[2], "0.0.0.0:443", false);
	cfg.nlisten = 3;
	nts_addr_parse(&cfg.tls_listen[0], "0.0.0.0:5349", false);
	cfg.ntls_listen = 1;
	api_ice_urls_from_config(&cfg, &u);
	assert_int_equal(u.n, 5);
	assert_string_equal(u.url[0], "stun:[2001:db8::1]:3478");
	assert_string_equal(u.url[1], "turn:[2001:db8::1]:3478?transport=udp");
	assert_string_equal(u.url[2], "turn:[2001:db8::1]:3478?transport=tcp");
	assert_string_equal(u.url[3], "turn:[2001:db8::1]:443?transport=tcp");
	assert_string_equal(u.url[4], "turns:[2001:db8::1]:5349?transport=tcp");
}

static void test_ice_urls_follow_the_open_sockets(void **state)
{
	/* UDP-only 3478, TCP+UDP 3479, UDP-only 443 (not listed: Twilio's 443 is TCP), two TLS
	 * sockets on one port (listed once). */
	static const struct api_listener l[] = {
	    {NTS_UDP, 3478}, {NTS_UDP, 3479}, {NTS_TCP, 3479},
	    {NTS_UDP, 443},  {NTS_TLS, 5349}, {NTS_TLS, 5349},
	};
	struct api_ice_urls u;

	api_ice_urls_from_listeners("h", l, sizeof(l) / sizeof(l[0]), &u);
	assert_int_equal(u.n, 5);
	assert_string_equal(u.url[0], "stun:h:3478");
	assert_string_equal(u.url[1], "turn:h:3478?transport=udp");
	assert_string_equal(u.url[2], "turn:h:3479?transport=udp");
	assert_string_equal(u.url[3], "turn:h:3479?transport=tcp");
	assert_string_equal(u.url[4], "turns:h:5349?transport=tcp");
}

static void test_set_ice_urls_replaces_what_tokens_list(void **state)
{
	struct fixture *f = *state;
	static const struct api_listener l[] = {{NTS_UDP, 9}};
	struct api_ice_urls u;
	struct api_response rs;
	json_t *j;

	assert_false(api_ice_is_set(f->api));
	api_ice_urls_from_listeners("x.test", l, 1, &u);
	api_set_ice_urls(f->api, &u);
	assert_true(api_ice_is_set(f->api));
	j = call(f, "POST", f->path, f->basic, NULL, &rs);
	assert_int_equal(json_array_size(json_object_get(j, "ice_servers")), 2);
	assert_string_equal(str(json_array_get(json_object_get(j, "ice_servers"), 0), "urls"),
			    "stun:x.test:9");
	json_decref(j);
}

static void test_ice_urls_survive_the_settings_round_trip(void **state)
{
	struct fixture *f = *state;
	struct api_ice_urls u, back;
	char *text;

	api_ice_urls_from_config(&f->cfg, &u);
	text = api_ice_urls_dump(&u);
	assert_non_null(text);
	assert_int_equal(api_ice_urls_load(text, &back), 0);
	assert_int_equal(back.n, u.n);
	assert_string_equal(back.url[2], u.url[2]);
	free(text);
	assert_int_equal(api_ice_urls_load("{\"no\":1}", &back), -EINVAL);
	assert_int_equal(api_ice_urls_load("[1]", &back), -EINVAL);
}

static void test_ttl_bounds_are_enforced_with_400(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	    "Ttl=0", "Ttl=86401", "Ttl=abc", "Ttl=", "Ttl=-5", "Ttl=1&Ttl=2", "Ttl=%zz"};
	struct api_response rs;
	json_t *j;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_twilio_error(call(f, "POST", f->path, f->basic, bad[i], &rs), &rs, 400,
				    API_ERR_INVALID_PARAM);
	j = call(f, "POST", f->path, f->basic, "Ttl=1", &rs);
	assert_int_equal(rs.status, 201);
	assert_string_equal(str(j, "ttl"), "1");
	json_decref(j);
	j = call(f, "POST", f->path, f->basic, "Ttl=86400", &rs);
	assert_int_equal(rs.status, 201);
	json_decref(j);
	assert_int_equal(f->stats.tokens_issued, 2);
}

static void test_missing_or_malformed_credentials_get_401(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;

	assert_twilio_error(call(f, "POST", f->path, NULL, NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	assert_true(rs.flags & API_RESP_WWW_AUTHENTICATE);
	assert_twilio_error(call(f, "POST", f->path, "Bearer x", NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	assert_twilio_error(call(f, "POST", f->path, "Basic ***", NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
}

static void test_wrong_token_or_unknown_sid_gets_401(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char auth[160];

	set_basic(auth, sizeof(auth), f->acct.sid, f->other_token);
	assert_twilio_error(call(f, "POST", f->path, auth, NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	set_basic(auth, sizeof(auth), "AC00000000000000000000000000000000", f->token);
	assert_twilio_error(call(f, "POST", f->path, auth, NULL, &rs), &rs, 401,
			    API_ERR_AUTHENTICATE);
	assert_int_equal(f->stats.tokens_issued, 0);
}

static void test_sid_in_path_must_be_the_authenticated_one(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[128];

	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Tokens.json", f->other.sid);
	assert_twilio_error(call(f, "POST", path, f->basic, NULL, &rs), &rs, 404,
			    API_ERR_NOT_FOUND);
}

static void test_unknown_paths_get_404_naming_the_path(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = {"/",
					    "/2010-04-01/Account",
					    "/2010-04-01/Accounts/",
					    "/2010-04-01/Accounts//Tokens.json",
					    "/2010-04-01/Accounts/AC1/Calls.json",
					    "/2010-04-01/Accounts/AC1/Tokens.json/x"};
	struct api_response rs;
	json_t *j;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		j = call(f, "POST", paths[i], f->basic, NULL, &rs);
		assert_non_null(strstr(str(j, "message"), paths[i]));
		assert_twilio_error(j, &rs, 404, API_ERR_NOT_FOUND);
	}
}

static void test_tokens_without_json_suffix_is_the_same_resource(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char path[128];

	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Tokens", f->acct.sid);
	json_decref(call(f, "POST", path, f->basic, NULL, &rs));
	assert_int_equal(rs.status, 201);
}

static void test_other_methods_get_405_with_allow(void **state)
{
	struct fixture *f = *state;
	static const char *const methods[] = {"GET", "PUT", "DELETE", "PATCH", "HEAD"};
	struct api_response rs;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		assert_twilio_error(call(f, methods[i], f->path, f->basic, NULL, &rs), &rs, 405,
				    API_ERR_METHOD);
		assert_true(rs.flags & API_RESP_ALLOW);
		assert_string_equal(rs.allow, "POST, OPTIONS");
	}
	assert_twilio_error(call(f, "POST", "/metrics", NULL, NULL, &rs), &rs, 405, API_ERR_METHOD);
}

static void test_oversized_body_gets_413(void **state)
{
	struct fixture *f = *state;
	struct api_request rq = {.method = "POST", .path = "/x", .body_too_large = true};
	struct api_response rs;
	json_t *j;

	api_handle(f->api, &rq, NOW, &rs);
	j = json_loadb(rs.body, rs.body_len, 0, NULL);
	api_response_free(&rs);
	assert_twilio_error(j, &rs, 413, API_ERR_TOO_LARGE);
}

static void test_suspended_account_cannot_issue_tokens(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;

	assert_int_equal(store_account_set_suspended(f->store, f->acct.sid, true), 0);
	assert_twilio_error(call(f, "POST", f->path, f->basic, NULL, &rs), &rs, 403,
			    API_ERR_NOT_ACTIVE);
	assert_int_equal(store_account_set_suspended(f->store, f->acct.sid, false), 0);
	json_decref(call(f, "POST", f->path, f->basic, NULL, &rs));
	assert_int_equal(rs.status, 201);
}

/* POSTs a token request for the account of path/basic at unix second now; the HTTP status. */
static unsigned mint_at(struct fixture *f, const char *path, const char *basic, uint64_t now,
			int *code)
{
	struct api_request rq = {.method = "POST", .path = path, .authorization = basic};
	struct api_response rs;
	json_t *j;
	unsigned status;

	api_handle(f->api, &rq, now, &rs);
	j = rs.body ? json_loadb(rs.body, rs.body_len, 0, NULL) : NULL;
	*code = (int)json_integer_value(json_object_get(j, "code"));
	status = rs.status;
	if (status == 429)
		assert_twilio_error(json_incref(j), &rs, 429, API_ERR_TOO_MANY);
	json_decref(j);
	api_response_free(&rs);
	return status;
}

/* Minting is limited per account (--token-rate per second, --token-burst deep): past it 429 with
 * Twilio's error body, code 20429; another account keeps its own budget; a second later the rate
 * refills. */
static void test_token_minting_past_the_account_rate_gets_429(void **state)
{
	struct fixture *f = *state;
	char other_path[128], other_basic[256];
	int code;

	api_destroy(f->api);
	f->cfg.token_rate = 2;
	f->cfg.token_burst = 3;
	f->api = api_create(&f->cfg, f->store, f->auth, &f->stats);
	assert_non_null(f->api);
	snprintf(other_path, sizeof(other_path), "/2010-04-01/Accounts/%s/Tokens.json",
		 f->other.sid);
	set_basic(other_basic, sizeof(other_basic), f->other.sid, f->other_token);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mint_at(f, f->path, f->basic, NOW, &code), 201);
	assert_int_equal(mint_at(f, f->path, f->basic, NOW, &code), 429);
	assert_int_equal(code, API_ERR_TOO_MANY);
	assert_int_equal(mint_at(f, other_path, other_basic, NOW, &code), 201);
	for (int i = 0; i < 2; i++)
		assert_int_equal(mint_at(f, f->path, f->basic, NOW + 1, &code), 201);
	assert_int_equal(mint_at(f, f->path, f->basic, NOW + 1, &code), 429);
	/* Requests that fail authentication never reach the bucket: 401, not 429. */
	assert_int_equal(mint_at(f, f->path, "Basic eDp5", NOW + 1, &code), 401);
}

/* A closed account gets 403 like a suspended one, and cannot be activated again. */
static void test_closed_account_cannot_issue_tokens(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;

	assert_int_equal(store_account_close(f->store, f->acct.sid), 0);
	assert_twilio_error(call(f, "POST", f->path, f->basic, NULL, &rs), &rs, 403,
			    API_ERR_NOT_ACTIVE);
	assert_int_equal(store_account_set_suspended(f->store, f->acct.sid, false), -EPERM);
}

static void test_options_preflight_answers_cors_without_auth(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	bool origin = false, methods = false;

	assert_null(call(f, "OPTIONS", f->path, NULL, NULL, &rs));
	assert_int_equal(rs.status, 200);
	assert_true(rs.flags & API_RESP_CORS);
	for (size_t i = 0; api_cors_headers[i]; i += 2) {
		origin |= strcmp(api_cors_headers[i], "Access-Control-Allow-Origin") == 0;
		methods |= strcmp(api_cors_headers[i], "Access-Control-Allow-Methods") == 0 &&
			   strstr(api_cors_headers[i + 1], "POST") != NULL;
	}
	assert_true(origin && methods);
}

/* Answers a request with the given Host (and no credentials); returns the status. */
static unsigned call_host(struct fixture *f, const char *method, const char *path, const char *host,
			  json_t **body)
{
	struct api_request rq = {.method = method, .path = path, .host = host};
	struct api_response rs;
	unsigned status;

	api_handle(f->api, &rq, NOW, &rs);
	status = rs.status;
	*body = rs.body ? json_loadb(rs.body, rs.body_len, 0, NULL) : NULL;
	if (status == 421)
		assert_twilio_error(*body ? json_incref(*body) : NULL, &rs, 421, 20421);
	api_response_free(&rs);
	return status;
}

/* DNS rebinding: a page of another name, rebound to our address, must not read /metrics or reach
 * the token API. */
static void test_foreign_host_gets_421_on_metrics_and_tokens(void **state)
{
	struct fixture *f = *state;
	json_t *j;

	nts_addr_parse(&f->cfg.api_listen, "127.0.0.1:8080", false);
	assert_int_equal(call_host(f, "GET", "/metrics", "evil.example:8080", &j), 421);
	json_decref(j);
	assert_int_equal(call_host(f, "POST", f->path, "evil.example", &j), 421);
	json_decref(j);
	assert_int_equal(call_host(f, "OPTIONS", f->path, "127.0.0.2:8080", &j), 421);
	json_decref(j);
	assert_int_equal(call_host(f, "GET", "/metrics", "[::1]:8080", &j), 421);
	json_decref(j);
}

static void test_listen_address_and_localhost_are_served_by_default(void **state)
{
	struct fixture *f = *state;
	json_t *j;

	nts_addr_parse(&f->cfg.api_listen, "127.0.0.1:8080", false);
	assert_int_equal(call_host(f, "GET", "/metrics", "127.0.0.1:8080", &j), 200);
	assert_int_equal(call_host(f, "GET", "/metrics", "localhost:8080", &j), 200);
	assert_int_equal(call_host(f, "GET", "/metrics", "LocalHost", &j), 200);
	assert_int_equal(call_host(f, "POST", f->path, "127.0.0.1", &j), 401);
	json_decref(j);
	nts_addr_parse(&f->cfg.api_listen, "[::1]:8080", false);
	assert_int_equal(call_host(f, "GET", "/metrics", "[::1]:8080", &j), 200);
	assert_int_equal(call_host(f, "GET", "/metrics", "127.0.0.1:8080", &j), 421);
	json_decref(j);
	/* A wildcard listen serves any address literal, never a name. */
	nts_addr_parse(&f->cfg.api_listen, "0.0.0.0:8080", false);
	assert_int_equal(call_host(f, "GET", "/metrics", "198.18.0.1:8080", &j), 200);
	assert_int_equal(call_host(f, "GET", "/metrics", "evil.example:8080", &j), 421);
	json_decref(j);
}

static void test_api_host_names_replace_the_defaults(void **state)
{
	struct fixture *f = *state;
	json_t *j;

	nts_addr_parse(&f->cfg.api_listen, "127.0.0.1:8080", false);
	strcpy(f->cfg.api_host[0], "turn.example.com");
	strcpy(f->cfg.api_host[1], "[2001:db8::1]");
	f->cfg.napi_host = 2;
	assert_int_equal(call_host(f, "GET", "/metrics", "Turn.Example.com:443", &j), 200);
	assert_int_equal(call_host(f, "GET", "/metrics", "[2001:db8::1]:443", &j), 200);
	assert_int_equal(call_host(f, "GET", "/metrics", "localhost:8080", &j), 421);
	json_decref(j);
	assert_int_equal(call_host(f, "GET", "/metrics", "turn.example.com.evil:80", &j), 421);
	json_decref(j);
	f->cfg.napi_host = 0;
}

/* The Fetch standard: "Access-Control-Allow-Origin: *" never with Allow-Credentials. */
static void test_cors_wildcard_origin_never_comes_with_credentials(void **state)
{
	bool wildcard = false, credentials = false;

	for (size_t i = 0; api_cors_headers[i]; i += 2) {
		wildcard |= strcmp(api_cors_headers[i], "Access-Control-Allow-Origin") == 0 &&
			    strcmp(api_cors_headers[i + 1], "*") == 0;
		credentials |=
		    strcasecmp(api_cors_headers[i], "Access-Control-Allow-Credentials") == 0;
	}
	assert_false(wildcard && credentials);
}

static void test_non_form_body_leaves_default_ttl(void **state)
{
	struct fixture *f = *state;
	struct api_request rq = {.method = "POST",
				 .path = f->path,
				 .authorization = f->basic,
				 .content_type = "application/json",
				 .body = "{\"Ttl\":5}",
				 .body_len = 9};
	struct api_response rs;
	json_t *j;

	api_handle(f->api, &rq, NOW, &rs);
	j = json_loadb(rs.body, rs.body_len, 0, NULL);
	api_response_free(&rs);
	assert_int_equal(rs.status, 201);
	assert_string_equal(str(j, "ttl"), "86400");
	json_decref(j);
}

static void test_metrics_count_tokens_without_account_labels(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	struct api_request rq = {.method = "GET", .path = "/metrics"};
	char *line, *save = NULL;

	json_decref(call(f, "POST", f->path, f->basic, NULL, &rs));
	f->stats.requests[STUN_STAT_TURN_ALLOCATE] = 7;
	f->stats.kernel_p2c_bytes = 1234;
	api_handle(f->api, &rq, NOW, &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(rs.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(rs.body, "\nnts_tokens_issued_total 1\n"));
	assert_non_null(strstr(rs.body, "nts_stun_requests_total{method=\"allocate\"} 7\n"));
	assert_non_null(strstr(rs.body, "nts_relayed_bytes_total{direction=\"peer_to_client\","
					"path=\"kernel\"} 1234\n"));
	assert_null(strstr(rs.body, f->acct.sid));
	/* Every sample line is "name[{labels}] value"; comments are HELP or TYPE. */
	for (line = strtok_r(rs.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			assert_true(strncmp(line, "# HELP nts_", 11) == 0 ||
				    strncmp(line, "# TYPE nts_", 11) == 0);
			continue;
		}
		assert_true(strncmp(line, "nts_", 4) == 0);
		assert_non_null(strrchr(line, ' '));
		assert_int_equal(strspn(strrchr(line, ' ') + 1, "0123456789"),
				 strlen(strrchr(line, ' ') + 1));
	}
	api_response_free(&rs);
}

static void test_commands_create_list_suspend_and_issue(void **state)
{
	struct fixture *f = *state;
	struct api_ice_urls u;
	char err[128];
	json_t *args, *sargs, *a, *list, *tok;
	const char *sid;

	api_ice_urls_from_config(&f->cfg, &u);
	args = json_pack("{s:s}", "name", "cmd test");
	a = api_cmd_account_create(f->store, args, err, sizeof(err));
	json_decref(args);
	assert_non_null(a);
	sid = str(a, "sid");
	assert_int_equal(strlen(str(a, "auth_token")), STORE_TOKEN_LEN);
	assert_string_equal(str(a, "status"), "active");
	assert_int_equal(store_account_verify(f->store, sid, str(a, "auth_token"), NULL), 0);

	list = api_cmd_account_list(f->store, NULL, err, sizeof(err));
	assert_int_equal(json_array_size(list), 3);
	assert_null(json_object_get(json_array_get(list, 2), "auth_token"));
	json_decref(list);

	args = json_pack("{s:s, s:i}", "account", sid, "ttl", 60);
	tok = api_cmd_token_create(f->store, f->auth, &u, &f->stats, args, err, sizeof(err));
	assert_non_null(tok);
	assert_string_equal(str(tok, "ttl"), "60");
	assert_int_equal(f->stats.tokens_issued, 1);
	json_decref(tok);

	sargs = json_pack("{s:s}", "sid", sid);
	json_decref(api_cmd_account_status(f->store, sargs, true, err, sizeof(err)));
	json_decref(sargs);
	assert_null(api_cmd_token_create(f->store, f->auth, &u, NULL, args, err, sizeof(err)));
	assert_non_null(strstr(err, "suspended"));
	json_decref(args);

	args = json_pack("{s:s, s:i}", "account", sid, "ttl", 86401);
	assert_null(api_cmd_token_create(f->store, f->auth, &u, NULL, args, err, sizeof(err)));
	json_decref(args);
	args = json_pack("{s:s}", "sid", "ACnope");
	assert_null(api_cmd_account_status(f->store, args, false, err, sizeof(err)));
	json_decref(args);
	json_decref(a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_token_has_exactly_twilios_fields_and_types),
	    T(test_credentials_follow_the_turn_rest_scheme),
	    T(test_ice_servers_in_twilio_order_with_url_and_urls),
	    cmocka_unit_test(test_ice_urls_list_443_and_turns_only_when_listening),
	    cmocka_unit_test(test_ice_urls_follow_the_open_sockets),
	    T(test_set_ice_urls_replaces_what_tokens_list),
	    T(test_ice_urls_survive_the_settings_round_trip),
	    T(test_ttl_bounds_are_enforced_with_400),
	    T(test_missing_or_malformed_credentials_get_401),
	    T(test_wrong_token_or_unknown_sid_gets_401),
	    T(test_sid_in_path_must_be_the_authenticated_one),
	    T(test_unknown_paths_get_404_naming_the_path),
	    T(test_tokens_without_json_suffix_is_the_same_resource),
	    T(test_other_methods_get_405_with_allow),
	    T(test_oversized_body_gets_413),
	    T(test_suspended_account_cannot_issue_tokens),
	    T(test_token_minting_past_the_account_rate_gets_429),
	    T(test_closed_account_cannot_issue_tokens),
	    T(test_options_preflight_answers_cors_without_auth),
	    T(test_foreign_host_gets_421_on_metrics_and_tokens),
	    T(test_listen_address_and_localhost_are_served_by_default),
	    T(test_api_host_names_replace_the_defaults),
	    T(test_cors_wildcard_origin_never_comes_with_credentials),
	    T(test_non_form_body_leaves_default_ttl),
	    T(test_metrics_count_tokens_without_account_labels),
	    T(test_commands_create_list_suspend_and_issue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
