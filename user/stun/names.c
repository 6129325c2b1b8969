/* Human-readable names for attribute types, parse errors, and the standard reason phrases
 * of error codes (RFC 8489 §14.8, RFC 8656 §19, RFC 6062 §6.3).
 */
#include "stun/stun.h"

/* clang-format off */

const char *stun_attr_name(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS: return "MAPPED-ADDRESS";
	case STUN_ATTR_USERNAME: return "USERNAME";
	case STUN_ATTR_MESSAGE_INTEGRITY: return "MESSAGE-INTEGRITY";
	case STUN_ATTR_ERROR_CODE: return "ERROR-CODE";
	case STUN_ATTR_UNKNOWN_ATTRIBUTES: return "UNKNOWN-ATTRIBUTES";
	case STUN_ATTR_CHANNEL_NUMBER: return "CHANNEL-NUMBER";
	case STUN_ATTR_LIFETIME: return "LIFETIME";
	case STUN_ATTR_XOR_PEER_ADDRESS: return "XOR-PEER-ADDRESS";
	case STUN_ATTR_DATA: return "DATA";
	case STUN_ATTR_REALM: return "REALM";
	case STUN_ATTR_NONCE: return "NONCE";
	case STUN_ATTR_XOR_RELAYED_ADDRESS: return "XOR-RELAYED-ADDRESS";
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY: return "REQUESTED-ADDRESS-FAMILY";
	case STUN_ATTR_EVEN_PORT: return "EVEN-PORT";
	case STUN_ATTR_REQUESTED_TRANSPORT: return "REQUESTED-TRANSPORT";
	case STUN_ATTR_DONT_FRAGMENT: return "DONT-FRAGMENT";
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256: return "MESSAGE-INTEGRITY-SHA256";
	case STUN_ATTR_PASSWORD_ALGORITHM: return "PASSWORD-ALGORITHM";
	case STUN_ATTR_USERHASH: return "USERHASH";
	case STUN_ATTR_XOR_MAPPED_ADDRESS: return "XOR-MAPPED-ADDRESS";
	case STUN_ATTR_RESERVATION_TOKEN: return "RESERVATION-TOKEN";
	case STUN_ATTR_CHANGE_REQUEST: return "CHANGE-REQUEST";
	case STUN_ATTR_SOURCE_ADDRESS: return "SOURCE-ADDRESS";
	case STUN_ATTR_CHANGED_ADDRESS: return "CHANGED-ADDRESS";
	case STUN_ATTR_PADDING: return "PADDING";
	case STUN_ATTR_RESPONSE_PORT: return "RESPONSE-PORT";
	case STUN_ATTR_RESPONSE_ORIGIN: return "RESPONSE-ORIGIN";
	case STUN_ATTR_OTHER_ADDRESS: return "OTHER-ADDRESS";
	case STUN_ATTR_PRIORITY: return "PRIORITY";
	case STUN_ATTR_USE_CANDIDATE: return "USE-CANDIDATE";
	case STUN_ATTR_CONNECTION_ID: return "CONNECTION-ID";
	case STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY: return "ADDITIONAL-ADDRESS-FAMILY";
	case STUN_ATTR_ADDRESS_ERROR_CODE: return "ADDRESS-ERROR-CODE";
	case STUN_ATTR_PASSWORD_ALGORITHMS: return "PASSWORD-ALGORITHMS";
	case STUN_ATTR_ALTERNATE_DOMAIN: return "ALTERNATE-DOMAIN";
	case STUN_ATTR_ICMP: return "ICMP";
	case STUN_ATTR_SOFTWARE: return "SOFTWARE";
	case STUN_ATTR_ALTERNATE_SERVER: return "ALTERNATE-SERVER";
	case STUN_ATTR_FINGERPRINT: return "FINGERPRINT";
	case STUN_ATTR_ICE_CONTROLLED: return "ICE-CONTROLLED";
	case STUN_ATTR_ICE_CONTROLLING: return "ICE-CONTROLLING";
	}
	return "UNKNOWN";
}

const char *stun_parse_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case STUN_ERR_TRUNCATED: return "truncated message";
	case STUN_ERR_NOT_STUN: return "not a STUN message";
	case STUN_ERR_BAD_LENGTH: return "message length not a multiple of 4";
	case STUN_ERR_ATTR_OVERRUN: return "attribute runs past the end";
	case STUN_ERR_BAD_PADDING: return "attribute padding missing";
	case STUN_ERR_AFTER_INTEGRITY: return "attribute after MESSAGE-INTEGRITY";
	case STUN_ERR_AFTER_FINGERPRINT: return "attribute after FINGERPRINT";
	case STUN_ERR_DUPLICATE: return "duplicated attribute";
	case STUN_ERR_TOO_MANY: return "too many attributes";
	case STUN_ERR_BAD_ATTR: return "malformed attribute";
	}
	return "unknown error";
}

const char *stun_reason(int code)
{
	switch (code) {
	case 300: return "Try Alternate";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 420: return "Unknown Attribute";
	case 437: return "Allocation Mismatch";
	case 438: return "Stale Nonce";
	case 440: return "Address Family not Supported";
	case 441: return "Wrong Credentials";
	case 442: return "Unsupported Transport Protocol";
	case 443: return "Peer Address Family Mismatch";
	case 446: return "Connection Already Exists";
	case 447: return "Connection Timeout or Failure";
	case 486: return "Allocation Quota Reached";
	case 500: return "Server Error";
	case 508: return "Insufficient Capacity";
	}
	return "Error";
}
/* clang-format on */
