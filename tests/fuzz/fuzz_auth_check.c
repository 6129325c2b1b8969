/* libFuzzer target: arbitrary bytes -> stun_parse -> auth_check (user/auth). The context has a
 * fixed nonce key and clock so the seed corpus (valid MD5/SHA-256/USERHASH/ephemeral requests)
 * reaches the integrity checks. Invariants: only 0/400/401/438; challenges exactly for 401/438; a
 * success signs a response that verifies with the returned key; a challenge fits in a bounded
 * number of bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_priv.h"

#define FUZZ_NOW 1700000000ULL
#define FUZZ_REALM "nts.example"

static struct auth_ctx *fuzz_ctx(void)
{
	static const char *const secrets[] = {"north-secret", "old-secret"};
	static const char *const users[] = {"alice:wonderland", "bob:pa:ss"};
	static struct auth_ctx *a;

	if (!a) {
		a = auth_create(FUZZ_REALM, secrets, 2, users, 2);
		if (!a)
			abort();
		memset(a->nonce_key, 0x42,
		       sizeof(a->nonce_key)); /* the corpus was made with this key */
	}
	return a;
}

static void check_signed_answer(const struct stun_msg *req, const struct auth_result *r)
{
	uint8_t buf[256];
	struct stun_builder b;
	struct stun_msg m;
	int n;

	stun_build_init(&b, buf, sizeof(buf), req->method, STUN_SUCCESS, req->tid);
	if (auth_sign(r, &b))
		abort();
	n = stun_build_finish(&b);
	if (n <= 0 || stun_parse(&m, buf, (size_t)n) || !stun_check_fingerprint(&m))
		abort();
	if (r->use_sha256 ? !stun_check_integrity_sha256(&m, r->key, r->key_len)
			  : !stun_check_integrity(&m, r->key, r->key_len))
		abort();
}

static void check_challenge(struct auth_ctx *a, const struct stun_msg *req,
			    const struct nts_addr *client)
{
	/* REALM (4 + 12), NONCE (4 + 48), PASSWORD-ALGORITHMS (4 + 8): 80 bytes after the header.
	 */
	uint8_t buf[STUN_HEADER_LEN + 80];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), req->method, STUN_ERROR, req->tid);
	if (auth_put_challenge(a, &b, client, FUZZ_NOW))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_ctx *a = fuzz_ctx();
	struct nts_addr client = {.ip = {198, 18, 0, 7}, .port = 40000, .family = AF_INET};
	struct auth_result r;
	struct stun_msg m;

	if (stun_parse(&m, data, size) != 0)
		return 0;
	auth_check(a, &m, &client, FUZZ_NOW, &r);
	if (r.error != 0 && r.error != 400 && r.error != 401 && r.error != 438)
		abort();
	if (r.challenge != (r.error == 401 || r.error == 438))
		abort();
	if (r.username[sizeof(r.username) - 1] || r.account[sizeof(r.account) - 1])
		abort();
	if (r.error == 0)
		check_signed_answer(&m, &r);
	else if (r.key_len)
		abort();
	if (r.challenge)
		check_challenge(a, &m, &client);
	return 0;
}
