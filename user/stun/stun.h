/* STUN codec (RFC 8489) with the TURN attributes of RFC 8656, RFC 6062 and RFC 8489 §14.
 * Parsing is zero-copy: a parsed message points into the caller's buffer, which must outlive it.
 * Building writes into a caller-supplied buffer; integrity and fingerprint are computed with OpenSSL.
 */
#ifndef NTS_STUN_STUN_H
#define NTS_STUN_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/origin.h"

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TID_LEN 12
#define STUN_MAX_ATTRS 64      /* more attributes than this is a malformed message */
#define STUN_MAX_UNKNOWN 16    /* comprehension-required unknown attributes reported in a 420 */
#define STUN_FINGERPRINT_XOR 0x5354554Eu

/* Message classes (RFC 8489 §5): the C1/C0 bits of the type. */
enum stun_class {
	STUN_REQUEST = 0x0000,
	STUN_INDICATION = 0x0010,
	STUN_SUCCESS = 0x0100,
	STUN_ERROR = 0x0110,
};

/* The method table, the one list of STUN/TURN methods (RFC 8489 §18.2, RFC 8656 §17,
 * RFC 6062 §6.1). Methods a client sends, in the order of their per-method counters:
 * X(enum name, number, name in logs, counter label, the client sends an indication (else a
 * request), handled by user/turn (else user/net answers it: Binding)). */
#define STUN_CLIENT_METHODS(X)                                                                     \
	X(STUN_BINDING, 0x001, "Binding", "binding", false, false)                                 \
	X(TURN_ALLOCATE, 0x003, "Allocate", "allocate", false, true)                               \
	X(TURN_REFRESH, 0x004, "Refresh", "refresh", false, true)                                  \
	X(TURN_SEND, 0x006, "Send", "send", true, true)                                            \
	X(TURN_CREATE_PERMISSION, 0x008, "CreatePermission", "create_permission", false, true)     \
	X(TURN_CHANNEL_BIND, 0x009, "ChannelBind", "channel_bind", false, true)                    \
	X(TURN_CONNECT, 0x00A, "Connect", "connect", false, true)                                  \
	X(TURN_CONNECTION_BIND, 0x00B, "ConnectionBind", "connection_bind", false, true)
/* Methods only a TURN server sends: X(enum name, number, name in logs). A client's copy is counted
 * as "other"; TURN ignores an indication of one, and a request of one gets 400. */
#define STUN_SERVER_METHODS(X)                                                                     \
	X(TURN_DATA, 0x007, "Data")                                                                \
	X(TURN_CONNECTION_ATTEMPT, 0x00C, "ConnectionAttempt")

#define STUN_METHOD_ENUM_(id, num, ...) id = num,
enum stun_method { STUN_CLIENT_METHODS(STUN_METHOD_ENUM_) STUN_SERVER_METHODS(STUN_METHOD_ENUM_) };
#undef STUN_METHOD_ENUM_

/* Slots of the per-method counters (struct nts_stats requests[] and errors[]): one per client
 * method, then one for every other method. */
#define STUN_METHOD_STAT_(id, ...) STUN_STAT_##id,
enum stun_method_stat { STUN_CLIENT_METHODS(STUN_METHOD_STAT_) STUN_STAT_OTHER, STUN_STAT_COUNT };
#undef STUN_METHOD_STAT_

/* One row of the method table. */
struct stun_method_def {
	uint16_t method;
	const char *name;      /* "CreatePermission" */
	const char *stat_name; /* "create_permission", the label of its counters; "other" */
	unsigned stat;         /* enum stun_method_stat */
	bool from_client;      /* in STUN_CLIENT_METHODS */
	bool indication;       /* a client sends it as an indication (Send), else as a request */
	bool turn;             /* handled by user/turn; Binding is answered by user/net */
};

/* The row of method, or NULL for a method the table does not list. */
const struct stun_method_def *stun_method_find(uint16_t method);
/* Counter slot of method: its own for a client method, else STUN_STAT_OTHER. */
unsigned stun_method_stat(uint16_t method);
/* Label of a counter slot ("create_permission"), as /metrics and ntsctl show it; "other". */
const char *stun_method_stat_name(unsigned stat);

/* Attribute types. 0x0000-0x7FFF are comprehension-required. */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_RESPONSE_ADDRESS = 0x0002, /* RFC 3489 §11.2.2: never honoured (a reflector) */
	STUN_ATTR_CHANGE_REQUEST = 0x0003,   /* RFC 5780 §7.2, RFC 3489 §11.2.4 */
	STUN_ATTR_SOURCE_ADDRESS = 0x0004,   /* RFC 3489 §11.2.5 */
	STUN_ATTR_CHANGED_ADDRESS = 0x0005,  /* RFC 3489 §11.2.3 */
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_CHANNEL_NUMBER = 0x000C,
	STUN_ATTR_LIFETIME = 0x000D,
	STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
	STUN_ATTR_DATA = 0x0013,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
	STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
	STUN_ATTR_EVEN_PORT = 0x0018,
	STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
	STUN_ATTR_DONT_FRAGMENT = 0x001A,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
	STUN_ATTR_USERHASH = 0x001E,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_RESERVATION_TOKEN = 0x0022,
	STUN_ATTR_PADDING = 0x0026,       /* RFC 5780 §7.6 */
	STUN_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 §7.5 */
	STUN_ATTR_CONNECTION_ID = 0x002A, /* RFC 6062 */
	STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
	STUN_ATTR_ADDRESS_ERROR_CODE = 0x8001,
	STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
	STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
	STUN_ATTR_ICMP = 0x8004,
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 §7.3 */
	STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 §7.4 */
	/* ICE (RFC 8445 §16.1): known so that ICE-style Binding requests get no 420; values ignored. */
	STUN_ATTR_PRIORITY = 0x0024,
	STUN_ATTR_USE_CANDIDATE = 0x0025,
	STUN_ATTR_ICE_CONTROLLED = 0x8029,
	STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/* CHANGE-REQUEST flags (RFC 5780 §7.2, the same bits as RFC 3489 §11.2.4). */
enum stun_change { STUN_CHANGE_PORT = 0x2, STUN_CHANGE_IP = 0x4 };

/* An RFC 3489 transaction id: the 32 bits where RFC 5389 put the magic cookie, then 96 more. */
#define STUN_TID3489_LEN 16

/* Password algorithms (RFC 8489 §18.5). */
enum stun_password_alg { STUN_PWALG_MD5 = 0x0001, STUN_PWALG_SHA256 = 0x0002 };

/* Parse results: 0 or one of these negative values. */
enum stun_parse_err {
	STUN_ERR_TRUNCATED = -1,      /* shorter than the header or than the header's length */
	STUN_ERR_NOT_STUN = -2,       /* top bits set or wrong magic cookie: not STUN at all */
	STUN_ERR_BAD_LENGTH = -3,     /* message length not a multiple of 4 */
	STUN_ERR_ATTR_OVERRUN = -4,   /* an attribute runs past the end */
	STUN_ERR_BAD_PADDING = -5,    /* the last attribute's padding is missing */
	STUN_ERR_AFTER_INTEGRITY = -6, /* attribute after MESSAGE-INTEGRITY(-SHA256) other than FINGERPRINT */
	STUN_ERR_AFTER_FINGERPRINT = -7, /* anything after FINGERPRINT */
	STUN_ERR_DUPLICATE = -8,      /* a known attribute appears twice (only the first is meaningful) */
	STUN_ERR_TOO_MANY = -9,       /* more than STUN_MAX_ATTRS attributes */
	STUN_ERR_BAD_ATTR = -10,      /* a known attribute with an impossible length or value */
};

/* One attribute, pointing into the message buffer. */
struct stun_attr {
	uint16_t type;
	uint16_t len;         /* value length without padding */
	uint16_t offset;      /* offset of the attribute header from the message start */
	const uint8_t *value;
};

/* A parsed message. */
struct stun_msg {
	const uint8_t *buf;
	size_t len;           /* 20 + header length */
	uint16_t type;        /* method | class bits */
	uint16_t method;
	uint16_t cls;         /* enum stun_class */
	uint8_t tid[STUN_TID_LEN];
	unsigned nattrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	/* Index into attrs of MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256, FINGERPRINT, or -1. */
	int integrity, integrity_sha256, fingerprint;
	/* Comprehension-required attribute types the codec does not know, for a 420 answer. */
	unsigned nunknown;
	uint16_t unknown[STUN_MAX_UNKNOWN];
	/* Parsed by stun_parse_rfc3489() without the magic cookie: the transaction id is the 16 bytes
	 * at buf + 4 (tid holds their last 12). */
	bool rfc3489;
};

/* --- parsing --- */

/* Quick test: could buf be a STUN message (top bits 00, magic cookie, length fits)? */
bool stun_is_stun(const uint8_t *buf, size_t len);
/* Parses and validates structure; attributes after MESSAGE-INTEGRITY other than FINGERPRINT are an error.
 * Returns 0 or enum stun_parse_err. Does not check integrity or fingerprint (see below).
 * MESSAGE-INTEGRITY-SHA256 may follow MESSAGE-INTEGRITY (RFC 8489 §14.6); nothing follows FINGERPRINT.
 * Bytes after the message (len > 20 + header length) are not part of it: m->len tells where it ends.
 * Duplicates: RFC 8489 says to ignore later copies; we reject a repeated known attribute with
 * STUN_ERR_DUPLICATE instead (a 400), except XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS, which RFC 8656
 * allows more than once (walk them with stun_find_next). Repeated unknown attributes are allowed.
 * Known attributes are checked for length and shape (address family vs length, ERROR-CODE class,
 * MESSAGE-INTEGRITY-SHA256 truncation, PASSWORD-ALGORITHM(S) layout): STUN_ERR_BAD_ATTR otherwise.
 * Unknown comprehension-required types (< 0x8000) land in m->unknown, each once, at most
 * STUN_MAX_UNKNOWN of them; that is not an error here: the caller answers 420. */
int stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len);
/* As stun_parse(), and also accepts an RFC 3489 message (RFC 8489 §5: no magic cookie, a 128-bit
 * transaction id); m->rfc3489 tells which it was. Anything with the top two bits 00 and a length
 * that fits looks like RFC 3489 STUN: callers accept it for Binding requests only. */
int stun_parse_rfc3489(struct stun_msg *m, const uint8_t *buf, size_t len);
/* First attribute of type, or NULL. */
const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type);
/* Next attribute of type after prev (NULL: the first), or NULL; for repeated XOR-PEER-ADDRESS. */
const struct stun_attr *stun_find_next(const struct stun_msg *m, uint16_t type,
				       const struct stun_attr *prev);
/* Human-readable name of a method, an attribute type, or a parse error ("Binding", "XOR-PEER-ADDRESS").
 * An unknown method is "Unknown". */
const char *stun_method_name(uint16_t method);
const char *stun_attr_name(uint16_t type);
const char *stun_parse_strerror(int err);

/* Attribute decoders: 0 on success, -EINVAL for a malformed value. */
int stun_attr_get_addr(const struct stun_attr *a, struct nts_addr *out);            /* MAPPED-ADDRESS, ALTERNATE-SERVER */
int stun_attr_get_xor_addr(const struct stun_msg *m, const struct stun_attr *a,
			   struct nts_addr *out);                                   /* XOR-* addresses */
int stun_attr_get_u32(const struct stun_attr *a, uint32_t *out);                    /* LIFETIME, FINGERPRINT, ICMP */
int stun_attr_get_error(const struct stun_attr *a, int *code, const char **reason,
			size_t *reason_len);                                        /* ERROR-CODE, ADDRESS-ERROR-CODE (code only) */
int stun_attr_get_channel(const struct stun_attr *a, uint16_t *channel);            /* CHANNEL-NUMBER */
int stun_attr_get_transport(const struct stun_attr *a, uint8_t *proto);             /* REQUESTED-TRANSPORT */
int stun_attr_get_family(const struct stun_attr *a, uint8_t *family);               /* REQUESTED/ADDITIONAL-ADDRESS-FAMILY: AF_INET/AF_INET6 */
int stun_attr_get_even_port(const struct stun_attr *a, bool *reserve_next);         /* EVEN-PORT R bit */
int stun_attr_get_u64(const struct stun_attr *a, uint64_t *out);                    /* RESERVATION-TOKEN (8 bytes, network order) */
int stun_attr_get_password_alg(const struct stun_attr *a, uint16_t *alg, const uint8_t **params,
			       uint16_t *params_len);                               /* PASSWORD-ALGORITHM */
/* PASSWORD-ALGORITHMS: iterate; *pos starts at 0; returns 1 with an entry, 0 at the end, -EINVAL. */
int stun_attr_next_password_alg(const struct stun_attr *a, size_t *pos, uint16_t *alg);
/* UNKNOWN-ATTRIBUTES: copies up to max types into out; returns count or -EINVAL. */
int stun_attr_get_unknown(const struct stun_attr *a, uint16_t *out, size_t max);
/* ADDRESS-ERROR-CODE (RFC 8656 §18.12): family and code. */
int stun_attr_get_address_error(const struct stun_attr *a, uint8_t *family, int *code,
				const char **reason, size_t *reason_len);
/* CONNECTION-ID (RFC 6062). */
int stun_attr_get_connection_id(const struct stun_attr *a, uint32_t *id);
/* CHANGE-REQUEST (RFC 5780 §7.2): the enum stun_change bits that are set; other bits ignored. */
int stun_attr_get_change_request(const struct stun_attr *a, unsigned *change);
/* RESPONSE-PORT (RFC 5780 §7.5): the port (host order), then 16 bits of padding. */
int stun_attr_get_response_port(const struct stun_attr *a, uint16_t *port);
/* ICMP (RFC 8656 §18.13, figure: 16 reserved bits, 7-bit type, 9-bit code, 32-bit error data). */
int stun_attr_get_icmp(const struct stun_attr *a, uint8_t *icmp_type, uint16_t *icmp_code,
		       uint32_t *error_data);
/* Notes on the decoders above: addresses come back with the port in host order; a family the codec
 * does not know (REQUESTED-/ADDITIONAL-ADDRESS-FAMILY value other than 1 or 2) gives -EAFNOSUPPORT so
 * the caller can answer 440; the family of ADDRESS-ERROR-CODE is returned as AF_INET/AF_INET6;
 * CHANNEL-NUMBER is returned as sent (the range check is the caller's: TURN answers 400 outside
 * STUN_CHANNEL_MIN..STUN_CHANNEL_MAX, 0x4000-0x7FFF). */

/* --- integrity and fingerprint --- */

/* Long-term key (RFC 8489 §9.2.2): MD5(user:realm:pass) into 16 bytes, or SHA-256 into 32 bytes.
 * Returns the key length or a negative errno (-EINVAL for another alg). out must hold 32 bytes.
 * Inputs are used exactly as given: no SASLprep/OpaqueString processing is applied. */
int stun_long_term_key(uint16_t alg, const char *user, size_t ulen, const char *realm, size_t rlen,
		       const char *pass, size_t plen, uint8_t *out);
/* USERHASH (RFC 8489 §14.4): SHA-256(username ":" realm) into 32 bytes. */
void stun_userhash(const char *user, size_t ulen, const char *realm, size_t rlen, uint8_t out[32]);
/* True when MESSAGE-INTEGRITY (HMAC-SHA1) / MESSAGE-INTEGRITY-SHA256 is present and matches key.
 * Comparison is constant-time. SHA-256 integrity may be truncated to 16..32 bytes (multiple of 4). */
bool stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len);
bool stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key, size_t key_len);
/* True when FINGERPRINT is present and correct. */
bool stun_check_fingerprint(const struct stun_msg *m);
/* CRC-32 (ISO HDLC) as FINGERPRINT uses it, before the XOR. */
uint32_t stun_crc32(const uint8_t *buf, size_t len);

/* --- building --- */

/* A message under construction in buf[0..cap). err sticks at -ENOSPC once anything does not fit
 * (nothing is ever written at or past cap), or at -EINVAL/-EAFNOSUPPORT for an impossible argument;
 * every later put then returns that error and stun_build_finish() reports it. */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

/* Starts a message of type (method | class) with the given transaction id. */
void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint16_t cls,
		     const uint8_t tid[STUN_TID_LEN]);
/* Starts an RFC 3489 message: the 128-bit transaction id where the cookie and tid would go. Only
 * plain attributes belong in it (no XOR addresses, integrity or FINGERPRINT: RFC 3489 has none). */
void stun_build_init_rfc3489(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
			     uint16_t cls, const uint8_t tid[STUN_TID3489_LEN]);
/* Appends an attribute with value (padded with zeros); returns 0 or -ENOSPC. */
int stun_put_attr(struct stun_builder *b, uint16_t type, const void *value, size_t len);
/* Same, with pad as the padding byte (RFC 8489 §14 lets senders pad with anything; the RFC 5769 test
 * vectors pad SOFTWARE and USERNAME with spaces). */
int stun_put_attr_pad(struct stun_builder *b, uint16_t type, const void *value, size_t len,
		      uint8_t pad);
int stun_put_u32(struct stun_builder *b, uint16_t type, uint32_t v);
int stun_put_u64(struct stun_builder *b, uint16_t type, uint64_t v);
int stun_put_addr(struct stun_builder *b, uint16_t type, const struct nts_addr *a);     /* plain */
int stun_put_xor_addr(struct stun_builder *b, uint16_t type, const struct nts_addr *a); /* XOR with cookie/tid */
/* ERROR-CODE with class/number from code (300..699) and the reason phrase (standard one if NULL). */
int stun_put_error(struct stun_builder *b, int code, const char *reason);
/* ADDRESS-ERROR-CODE (RFC 8656 §18.12); family is AF_INET or AF_INET6. */
int stun_put_address_error(struct stun_builder *b, uint8_t family, int code, const char *reason);
/* UNKNOWN-ATTRIBUTES listing types. */
int stun_put_unknown(struct stun_builder *b, const uint16_t *types, size_t n);
/* PASSWORD-ALGORITHMS listing algs (no parameters). */
int stun_put_password_algs(struct stun_builder *b, const uint16_t *algs, size_t n);
int stun_put_password_alg(struct stun_builder *b, uint16_t alg);
int stun_put_channel(struct stun_builder *b, uint16_t channel);   /* CHANNEL-NUMBER */
int stun_put_transport(struct stun_builder *b, uint8_t proto);    /* REQUESTED-TRANSPORT */
int stun_put_family(struct stun_builder *b, uint16_t type, uint8_t af); /* REQUESTED/ADDITIONAL-ADDRESS-FAMILY */
int stun_put_even_port(struct stun_builder *b, bool reserve_next);
/* CHANGE-REQUEST with the enum stun_change bits of change (RFC 5780 §7.2). */
int stun_put_change_request(struct stun_builder *b, unsigned change);
/* RESPONSE-PORT (RFC 5780 §7.5). */
int stun_put_response_port(struct stun_builder *b, uint16_t port);
/* PADDING of len zero bytes (RFC 5780 §7.6). */
int stun_put_padding(struct stun_builder *b, size_t len);
/* ICMP (RFC 8656 §18.13), layout as stun_attr_get_icmp(). */
int stun_put_icmp(struct stun_builder *b, uint8_t icmp_type, uint16_t icmp_code, uint32_t error_data);
/* Appends MESSAGE-INTEGRITY (HMAC-SHA1 over the message so far, length adjusted per RFC 8489 §14.5). */
int stun_put_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len);
/* Appends MESSAGE-INTEGRITY-SHA256 (full 32 bytes). */
int stun_put_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t key_len);
/* Appends FINGERPRINT; must be last. */
int stun_put_fingerprint(struct stun_builder *b);
/* Finishes: returns the total length, or b->err if anything failed. */
int stun_build_finish(struct stun_builder *b);
/* Finishes b and hands the message to send for o: how net and TURN send every message they build.
 * Returns its length, or the builder's error with nothing sent; what send returns is not reported
 * (a stream whose queue is full is closed by net, util/origin.h). */
int stun_build_send(struct stun_builder *b, nts_client_send_fn send, void *send_arg,
		    const struct nts_origin *o);

/* Standard reason phrase for an error code ("Unauthorized" for 401), or "Error". */
const char *stun_reason(int code);

/* --- ChannelData (RFC 8656 §12) --- */

#define STUN_CHANNELDATA_HDR 4
/* The channel numbers accepted, in ChannelBind and in ChannelData framing alike. RFC 8656 §12
 * narrows channels to 0x4000-0x4FFF, but RFC 5766 allowed 0x4000-0x7FFF and deployed clients
 * (coturn's turnutils_uclient, restund/libre) still pick from there. 0x5000-0x7FFF only matters for
 * DTLS-SRTP demultiplexing (RFC 7983), which a TURN port never does, so accepting it costs nothing.
 * Every ChannelData frame (first bits 01) carries a channel in this range. */
#define STUN_CHANNEL_MIN 0x4000
#define STUN_CHANNEL_MAX 0x7FFF

/* True when the first byte says ChannelData (0b01). */
static inline bool stun_is_channeldata(const uint8_t *buf, size_t len)
{
	return len >= 1 && (buf[0] & 0xC0) == 0x40;
}
/* Parses ChannelData at buf: channel, payload and the frame length consumed (header + data, plus
 * padding to 4 when stream is true, RFC 8656 §12.5). Over UDP, padding after the data is accepted.
 * Returns 0, STUN_ERR_TRUNCATED when more bytes are needed, or STUN_ERR_BAD_ATTR for a channel outside
 * STUN_CHANNEL_MIN..STUN_CHANNEL_MAX. */
int stun_channeldata_parse(const uint8_t *buf, size_t len, bool stream, uint16_t *channel,
			   const uint8_t **data, uint16_t *data_len, size_t *frame_len);
/* Length of a ChannelData frame with data_len bytes of data: header + data, padded to 4 when stream
 * is true (RFC 8656 §12.5: over TCP/TLS padding is required; over UDP we send none). */
size_t stun_channeldata_frame_len(uint16_t data_len, bool stream);
/* Writes the 4-byte header for channel and data_len into hdr and returns the frame length
 * (stun_channeldata_frame_len); the caller sends data and then frame length - header - data_len
 * zero bytes of padding. */
size_t stun_channeldata_header(uint8_t hdr[STUN_CHANNELDATA_HDR], uint16_t channel,
			       uint16_t data_len, bool stream);

/* --- stream framing --- */

/* On a TCP/TLS stream: how many bytes the next frame (STUN or ChannelData) at buf occupies, 0 when more
 * bytes are needed to know, or a negative value when the bytes cannot start a frame (close the stream). */
long stun_stream_frame_len(const uint8_t *buf, size_t len);

#endif
