/* The connectivity test page's links and routes (README.md, "Connectivity test page"): links
 * signed with the ephemeral-credential secret verify until they expire and not after any change;
 * the page carries a Content-Security-Policy of its inline script's and style's hashes; the token
 * endpoint mints credentials for the link's account until the link expires, and refuses clearly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/api_diag.h"
#include "auth/auth.h"
#include "store/store.h"

#define NOW ((uint64_t)1588297377)
#define SECRET "test-signing-secret"

struct fixture {
	char dir[64];
	struct nts_config cfg;
	struct nts_stats stats;
	struct nts_store *store;
	struct auth_ctx *auth;
	struct api_server *api;
	struct store_account acct, other;
	char token[STORE_TOKEN_LEN + 1];
	char link[API_DIAG_LINK_LEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *secrets[] = {SECRET};
	char db[128];

	strcpy(f->dir, "/tmp/nts-diag-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(db, sizeof(db), "%s/nts.db", f->dir);
	nts_addr_parse(&f->cfg.listen[0], "127.0.0.1:3478", false);
	f->cfg.nlisten = 1;
	strcpy(f->cfg.ice_host, "turn.example.test");
	if (store_open(db, &f->store) || store_account_create(f->store, "main", &f->acct, f->token))
		return -1;
	f->auth = auth_create("nts", secrets, 1, NULL, 0);
	f->api = api_create(&f->cfg, f->store, f->auth, &f->stats);
	if (!f->auth || !f->api)
		return -1;
	if (api_diag_link_make(f->auth, f->acct.sid, NOW + 600, f->link, sizeof(f->link)))
		return -1;
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

static int check(struct fixture *f, const char *link, uint64_t now)
{
	char sid[64];
	uint64_t expiry = 0;

	return api_diag_link_check(f->auth, link, now, sid, sizeof(sid), &expiry);
}

static void test_link_verifies_until_it_expires(void **state)
{
	struct fixture *f = *state;
	char sid[64];
	uint64_t expiry = 0;

	assert_int_equal(api_diag_link_check(f->auth, f->link, NOW, sid, sizeof(sid), &expiry), 0);
	assert_string_equal(sid, f->acct.sid);
	assert_int_equal(expiry, NOW + 600);
	assert_int_equal(check(f, f->link, NOW + 599), 0);
	assert_int_equal(check(f, f->link, NOW + 600), -ETIMEDOUT);
}

static void test_link_with_any_change_is_refused(void **state)
{
	struct fixture *f = *state;
	char bad[API_DIAG_LINK_LEN];
	size_t len = strlen(f->link);

	/* every character changed in turn: the MAC, the account, the expiry */
	for (size_t i = 0; i < len; i++) {
		strcpy(bad, f->link);
		if (bad[i] == '.')
			continue;
		bad[i] = bad[i] == '1' ? '2' : '1';
		assert_int_not_equal(check(f, bad, NOW), 0);
	}
	/* a longer life, re-using the MAC */
	snprintf(bad, sizeof(bad), "%" PRIu64 "%s", NOW + 86400, strchr(f->link, '.'));
	assert_int_equal(check(f, bad, NOW), -EACCES);
}

static void test_link_malformed_is_einval(void **state)
{
	struct fixture *f = *state;
	char upper[API_DIAG_LINK_LEN];
	const char *bad[] = {"", ".", "..", "1.AC.", "x.AC00.00", "1588297977..", "1.2.3"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(f, bad[i], NOW), -EINVAL);
	strcpy(upper, f->link);
	for (char *p = strrchr(upper, '.'); *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(check(f, upper, NOW), -EINVAL);
}

static void test_link_follows_secret_rotation(void **state)
{
	struct fixture *f = *state;
	const char *rotated[] = {"new-secret", SECRET}, *replaced[] = {"new-secret"};
	char fresh[API_DIAG_LINK_LEN];

	assert_int_equal(auth_set_secrets(f->auth, rotated, 2), 0);
	assert_int_equal(check(f, f->link, NOW), 0); /* the old secret still verifies */
	assert_int_equal(api_diag_link_make(f->auth, f->acct.sid, NOW + 60, fresh, sizeof(fresh)),
			 0);
	assert_int_equal(auth_set_secrets(f->auth, replaced, 1), 0);
	assert_int_equal(check(f, f->link, NOW), -EACCES);
	assert_int_equal(check(f, fresh, NOW), 0); /* signed with the first secret */
}

static void handle(struct fixture *f, const char *method, const char *path, const char *body,
		   struct api_response *rs)
{
	struct api_request rq = {
	    .method = method,
	    .path = path,
	    .content_type = body ? "application/x-www-form-urlencoded" : NULL,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	};

	api_handle(f->api, &rq, NOW, rs);
}

/* 'sha256-<base64>' of the text between open and close in page. */
static void inline_hash(const char *page, const char *open, const char *close, char *out,
			size_t len)
{
	const char *a = strstr(page, open), *b;
	unsigned char md[32], b64[64];
	unsigned n = 0;

	assert_non_null(a);
	a += strlen(open);
	b = strstr(a, close);
	assert_non_null(b);
	assert_true(EVP_Digest(a, (size_t)(b - a), md, &n, EVP_sha256(), NULL));
	EVP_EncodeBlock(b64, md, 32);
	snprintf(out, len, "'sha256-%s'", b64);
}

static void test_page_allows_only_its_inline_script_and_style(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char js[80], css[80], want[200];
	char *page;
	bool nosniff = false;

	handle(f, "GET", "/diag", NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(rs.content_type, "text/html; charset=utf-8");
	assert_false(rs.flags & API_RESP_CORS);
	assert_non_null(rs.csp);
	page = strndup(rs.body, rs.body_len);
	assert_null(strstr(page, "@JS@"));
	inline_hash(page, "<script>", "</script>", js, sizeof(js));
	inline_hash(page, "<style>", "</style>", css, sizeof(css));
	snprintf(want, sizeof(want), "script-src %s;", js);
	assert_non_null(strstr(rs.csp, want));
	snprintf(want, sizeof(want), "style-src %s;", css);
	assert_non_null(strstr(rs.csp, want));
	assert_non_null(strstr(rs.csp, "default-src 'none'"));
	assert_null(strstr(rs.csp, "unsafe"));
	for (size_t i = 0; rs.headers && rs.headers[i]; i += 2)
		nosniff |= strcmp(rs.headers[i], "X-Content-Type-Options") == 0 &&
			   strcmp(rs.headers[i + 1], "nosniff") == 0;
	assert_true(nosniff);
	free(page);
	api_response_free(&rs);
	assert_null(rs.csp);
}

static void test_token_lasts_until_the_link_expires(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;
	char body[256];
	json_t *j;

	snprintf(body, sizeof(body), "link=%s", f->link);
	handle(f, "POST", "/diag/token", body, &rs);
	assert_int_equal(rs.status, 201);
	j = json_loadb(rs.body, rs.body_len, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "account_sid")), f->acct.sid);
	assert_string_equal(json_string_value(json_object_get(j, "ttl")), "600");
	assert_true(json_array_size(json_object_get(j, "ice_servers")) >= 3);
	assert_int_equal(f->stats.tokens_issued, 1);
	json_decref(j);
	api_response_free(&rs);
}

static void expect_refusal(struct fixture *f, const char *body, unsigned status, int code)
{
	struct api_response rs;
	json_t *j;

	handle(f, "POST", "/diag/token", body, &rs);
	assert_int_equal(rs.status, status);
	j = json_loadb(rs.body, rs.body_len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), code);
	assert_non_null(json_string_value(json_object_get(j, "message")));
	json_decref(j);
	api_response_free(&rs);
}

static void test_token_refuses_bad_expired_and_inactive(void **state)
{
	struct fixture *f = *state;
	char body[256], expired[API_DIAG_LINK_LEN];

	snprintf(body, sizeof(body), "link=%.*s0", (int)strlen(f->link) - 1, f->link);
	if (strcmp(body + 5, f->link) == 0)
		body[strlen(body) - 1] = '1';
	expect_refusal(f, body, 401, API_ERR_AUTHENTICATE);
	expect_refusal(f, "", 401, API_ERR_AUTHENTICATE);
	assert_int_equal(api_diag_link_make(f->auth, f->acct.sid, NOW, expired, sizeof(expired)),
			 0);
	snprintf(body, sizeof(body), "link=%s", expired);
	expect_refusal(f, body, 403, API_ERR_FORBIDDEN);
	assert_int_equal(store_account_set_suspended(f->store, f->acct.sid, true), 0);
	snprintf(body, sizeof(body), "link=%s", f->link);
	expect_refusal(f, body, 403, API_ERR_NOT_ACTIVE);
	assert_int_equal(f->stats.tokens_issued, 0);
}

static void test_token_minting_is_rate_limited_per_account(void **state)
{
	struct fixture *f = *state;
	struct api_server *limited;
	struct api_response rs;
	char body[256];

	f->cfg.token_rate = 1;
	f->cfg.token_burst = 2;
	limited = api_create(&f->cfg, f->store, f->auth, &f->stats);
	assert_non_null(limited);
	api_destroy(f->api);
	f->api = limited;
	snprintf(body, sizeof(body), "link=%s", f->link);
	for (int i = 0; i < 2; i++) {
		handle(f, "POST", "/diag/token", body, &rs);
		assert_int_equal(rs.status, 201);
		api_response_free(&rs);
	}
	expect_refusal(f, body, 429, API_ERR_TOO_MANY);
}

static void test_diag_routes_allow_their_methods_only(void **state)
{
	struct fixture *f = *state;
	struct api_response rs;

	handle(f, "POST", "/diag", "", &rs);
	assert_int_equal(rs.status, 405);
	assert_string_equal(rs.allow, "GET, HEAD");
	api_response_free(&rs);
	handle(f, "GET", "/diag/token", NULL, &rs);
	assert_int_equal(rs.status, 405);
	assert_string_equal(rs.allow, "POST");
	api_response_free(&rs);
}

static void test_cmd_diag_link_names_the_account_when_several(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", token[STORE_TOKEN_LEN + 1], sid[64];
	json_t *args = json_pack("{s:i}", "ttl", 120), *r;
	const char *url;
	uint64_t expiry;

	r = api_cmd_diag_link(f->store, f->auth, "http://127.0.0.1:8080", args, err, sizeof(err));
	assert_non_null(r); /* one account: it is the default */
	url = json_string_value(json_object_get(r, "url"));
	assert_int_equal(strncmp(url, "http://127.0.0.1:8080/diag#", 27), 0);
	assert_int_equal(
	    api_diag_link_check(f->auth, url + 27, (uint64_t)time(NULL), sid, sizeof(sid), &expiry),
	    0);
	assert_string_equal(sid, f->acct.sid);
	json_decref(r);
	assert_int_equal(store_account_create(f->store, "other", &f->other, token), 0);
	assert_null(api_cmd_diag_link(f->store, f->auth, "", args, err, sizeof(err)));
	assert_non_null(strstr(err, "--account"));
	json_object_set_new(args, "ttl", json_integer(API_DIAG_TTL_MAX + 1));
	json_object_set_new(args, "account", json_string(f->other.sid));
	assert_null(api_cmd_diag_link(f->store, f->auth, "", args, err, sizeof(err)));
	json_decref(args);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_link_verifies_until_it_expires),
	    T(test_link_with_any_change_is_refused),
	    T(test_link_malformed_is_einval),
	    T(test_link_follows_secret_rotation),
	    T(test_page_allows_only_its_inline_script_and_style),
	    T(test_token_lasts_until_the_link_expires),
	    T(test_token_refuses_bad_expired_and_inactive),
	    T(test_token_minting_is_rate_limited_per_account),
	    T(test_diag_routes_allow_their_methods_only),
	    T(test_cmd_diag_link_names_the_account_when_several),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
