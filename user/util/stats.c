/* Method-to-counter mapping; see stats.h. */
#include "util/stats.h"

const char *nts_method_idx_name(enum nts_method_idx idx)
{
	static const char *const names[NTS_M_COUNT] = {
		[NTS_M_BINDING] = "binding",
		[NTS_M_ALLOCATE] = "allocate",
		[NTS_M_REFRESH] = "refresh",
		[NTS_M_SEND] = "send",
		[NTS_M_CREATE_PERMISSION] = "create_permission",
		[NTS_M_CHANNEL_BIND] = "channel_bind",
		[NTS_M_CONNECT] = "connect",
		[NTS_M_CONNECTION_BIND] = "connection_bind",
		[NTS_M_OTHER] = "other",
	};

	return (unsigned)idx < NTS_M_COUNT ? names[idx] : "other";
}

enum nts_method_idx nts_method_idx(uint16_t method)
{
	switch (method) {
	case 0x001: return NTS_M_BINDING;
	case 0x003: return NTS_M_ALLOCATE;
	case 0x004: return NTS_M_REFRESH;
	case 0x006: return NTS_M_SEND;
	case 0x008: return NTS_M_CREATE_PERMISSION;
	case 0x009: return NTS_M_CHANNEL_BIND;
	case 0x00A: return NTS_M_CONNECT;
	case 0x00B: return NTS_M_CONNECTION_BIND;
	default: return NTS_M_OTHER;
	}
}
