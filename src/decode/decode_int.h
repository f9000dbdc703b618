/*
 * decode_int.h - shared between the files of src/decode only.
 */
#ifndef CID_DECODE_INT_H
#define CID_DECODE_INT_H

#include "callerid/decode.h"

/* Sets every network and transport field of pkt to its empty value, so a
 * frame that stops before or inside IP never shows a previous packet's. */
void cid_decode_clear_ip(struct cid_pkt *pkt);

#endif /* CID_DECODE_INT_H */
