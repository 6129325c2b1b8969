/* Parsers of untrusted HTTP input: form bodies, Ttl, Basic credentials; and the RFC 2822 date. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"

static int api_hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) (WHATWG urlencoded: '+' is a space) into out. 0, -EINVAL or -ENOSPC. */
static int api_url_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = api_hex_val(s[i + 1]);
			lo = api_hex_val(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0')
			return -EINVAL; /* no embedded NULs in values */
		if (o + 1 >= outlen)
			return -ENOSPC;
		out[o++] = c;
	}
	if (outlen == 0)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int api_form_get(const char *body, size_t len, const char *key, char *out, size_t outlen)
{
	char name[64];
	bool found = false;
	size_t i = 0;
	int err;

	while (i < len) {
		size_t end = i, eq;

		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		if (end > i) {
			/* Keys longer than any we know cannot match; skip them without decoding. */
			err = api_url_decode(body + i, eq - i, name, sizeof(name));
			if (err == -EINVAL)
				return err;
			if (!err && strcmp(name, key) == 0) {
				if (found)
					return -EINVAL; /* ambiguous: Ttl=1&Ttl=2 */
				found = true;
				err = api_url_decode(body + (eq < end ? eq + 1 : end),
						     eq < end ? end - eq - 1 : 0, out, outlen);
				if (err)
					return err;
			}
		}
		i = end + 1;
	}
	return found ? 0 : -ENOENT;
}

int api_parse_ttl(const char *s, uint32_t *ttl)
{
	uint32_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > API_TTL_MAX)
			return -EINVAL;
	}
	if (v < 1)
		return -EINVAL;
	*ttl = v;
	return 0;
}

static int api_b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes standard base64 (padding optional, nothing else allowed). Length or -EINVAL/-ENOSPC. */
static int api_b64_decode(const char *s, size_t len, char *out, size_t outlen)
{
	uint32_t acc = 0;
	size_t o = 0, bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = api_b64_val(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -ENOSPC;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	return (int)o;
}

int api_parse_basic(const char *header, char *user, size_t ulen, char *pass, size_t plen)
{
	char buf[512];
	const char *p, *colon;
	size_t len;
	int n;

	if (!header || strncasecmp(header, "Basic ", 6) != 0)
		return -EINVAL;
	for (p = header + 6; *p == ' '; p++)
		;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	n = api_b64_decode(p, len, buf, sizeof(buf) - 1);
	if (n < 0)
		return -EINVAL;
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n))
		return -EINVAL;
	colon = strchr(buf, ':');
	if (!colon || (size_t)(colon - buf) >= ulen || strlen(colon + 1) >= plen)
		return -EINVAL;
	memcpy(user, buf, (size_t)(colon - buf));
	user[colon - buf] = '\0';
	strcpy(pass, colon + 1);
	return 0;
}

const char *api_fmt_rfc2822(uint64_t t, char *buf, size_t len)
{
	/* Fixed English names: strftime's %a/%b would follow the locale. */
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 +0000");
		return buf;
	}
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	return buf;
}
