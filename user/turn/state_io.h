/* The upgrade stream's TURN records (docs/architecture.md, "Upgrading without dropping calls"):
 * their field numbers, and lifetimes as time left. state_export.c writes them, state_import.c
 * reads them.
 */
#ifndef NTS_TURN_STATE_IO_H
#define NTS_TURN_STATE_IO_H

#include <stdint.h>

/* Fields of NTS_REC_TURN_SERVER. */
enum { TS_NEXT_ID = 1, TS_NEXT_TID = 2 };
/* Fields of NTS_REC_TURN_ALLOC. */
enum {
	TA_ID = 1,
	TA_TRANSPORT = 2,
	TA_CLIENT = 3,
	TA_SERVER = 4,
	TA_LISTENER = 5, /* fd index of the UDP listen socket the client reaches */
	TA_RELAY = 6,	 /* nested: TR_* */
	TA_USER = 7,
	TA_ACCOUNT = 8,
	TA_EXPIRES = 9,	  /* ms left (signed) */
	TA_CRED_END = 10, /* ms left until the credential expires (--strict-expiry) */
	TA_LAST_TID = 11,
	TA_LAST_RESP = 12,
	TA_COUNTERS = 13,     /* c2p packets, c2p bytes, p2c packets, p2c bytes */
	TA_REPORTED = 14,     /* client-to-peer bytes already reported as usage */
	TA_PERM = 15,	      /* nested: TP_* */
	TA_CHAN = 16,	      /* nested: TC_* */
	TA_REPORTED_P2C = 17, /* peer-to-client bytes already reported as usage */
};
enum { TR_FD = 1, TR_LOCAL = 2, TR_ADVERTISED = 3 };
enum { TP_PEER = 1, TP_EXPIRES = 2 };
enum { TC_NUM = 1, TC_PEER = 2, TC_EXPIRES = 3, TC_COOLING = 4 };
/* Fields of NTS_REC_TURN_RESV. */
enum { TV_TOKEN = 1, TV_FD = 2, TV_LOCAL = 3, TV_EXPIRES = 4 };

/* A lifetime ending at at_ms as time left at now_ms, and back. */
static inline uint64_t state_left(uint64_t at_ms, uint64_t now_ms)
{
	return at_ms - now_ms; /* two's complement: negative when past */
}

static inline uint64_t state_at(uint64_t left, uint64_t now_ms)
{
	int64_t l = (int64_t)left;

	return l < 0 && (uint64_t)-l > now_ms ? 0 : now_ms + (uint64_t)l;
}

#endif /* NTS_TURN_STATE_IO_H */
