/*
 * http_int.h - byte classes shared by the head parser (http.c) and the
 * connection state machine (http_conn.c); not a public interface.
 */
#ifndef CID_HTTP_INT_H
#define CID_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* tchar (RFC 9110 section 5.6.2). */
static inline bool cid_http_is_tchar(uint8_t b)
{
	if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'))
		return true;
	return b != 0 && strchr("!#$%&'*+-.^_`|~", b) != NULL;
}

static inline uint8_t cid_http_lower(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
}

#endif /* CID_HTTP_INT_H */
