/* The connectivity test page, embedded at build time from user/api/diag/ (page.html, page.css,
 * page.js, turned into C arrays by xxd; see the Makefile). The style and the script go inline, so
 * the page is one self-contained answer; its Content-Security-Policy allows exactly those two by
 * their SHA-256 hashes and nothing else: no other script or style, no eval, no frames, and
 * connections only back to this origin (WebRTC's TURN traffic is not fetch() and is not governed by
 * connect-src).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_diag.h"
#include "diag_assets.h" /* generated: api_diag_{html,css,js}[] and their _len */

#define API_DIAG_CSS_MARK "@CSS@"
#define API_DIAG_JS_MARK "@JS@"

/* 'sha256-<base64>' of len bytes at p into out (at least 64 bytes). 0 or -EIO. */
static int api_diag_hash(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned n = 0;

	if (!EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	EVP_EncodeBlock(b64, md, 32);
	snprintf(out, outlen, "'sha256-%s'", b64);
	return 0;
}

/* Finds mark in the template between from and the end; NULL if absent. */
static const char *api_diag_find(const char *from, const char *end, const char *mark)
{
	size_t m = strlen(mark);

	for (const char *p = from; p + m <= end; p++)
		if (memcmp(p, mark, m) == 0)
			return p;
	return NULL;
}

int api_diag_page(struct api_response *rs)
{
	const char *html = (const char *)api_diag_html, *end = html + api_diag_html_len;
	const char *css_at = api_diag_find(html, end, API_DIAG_CSS_MARK);
	const char *js_at = css_at ? api_diag_find(css_at, end, API_DIAG_JS_MARK) : NULL;
	char css_hash[64], js_hash[64];
	size_t len, cl = strlen(API_DIAG_CSS_MARK), jl = strlen(API_DIAG_JS_MARK);
	char *page, *p;

	if (!js_at || api_diag_hash(api_diag_css, api_diag_css_len, css_hash, sizeof(css_hash)) ||
	    api_diag_hash(api_diag_js, api_diag_js_len, js_hash, sizeof(js_hash)))
		return -EIO;
	len = api_diag_html_len - cl - jl + api_diag_css_len + api_diag_js_len;
	page = malloc(len);
	rs->csp = malloc(512);
	if (!page || !rs->csp) {
		free(page);
		free(rs->csp);
		rs->csp = NULL;
		return -ENOMEM;
	}
	p = page;
	memcpy(p, html, (size_t)(css_at - html)), p += css_at - html;
	memcpy(p, api_diag_css, api_diag_css_len), p += api_diag_css_len;
	memcpy(p, css_at + cl, (size_t)(js_at - css_at - cl)), p += js_at - css_at - cl;
	memcpy(p, api_diag_js, api_diag_js_len), p += api_diag_js_len;
	memcpy(p, js_at + jl, (size_t)(end - js_at - jl));
	snprintf(rs->csp, 512,
		 "default-src 'none'; script-src %s; style-src %s; connect-src 'self'; "
		 "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		 js_hash, css_hash);
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	rs->body = page;
	rs->body_len = len;
	return 0;
}
