/* Method-to-counter mapping; see stats.h. */
#include "util/stats.h"

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
