/*
 * natlink.h - links between the two sightings of one connection in a
 * capture taken on a node with `tcpdump -i any`: on the pod's veth (pod
 * address) and on the uplink (node address, after SNAT).
 */
#ifndef CID_NATLINK_H
#define CID_NATLINK_H

#include <stdint.h>

#include "callerid/store.h"

/* Flows sharing one key (client random, or server + ISN) examined per group;
 * a larger group (a hostile or synthetic capture) is skipped and counted. */
#define CID_NATLINK_MAX_GROUP 64u
/* tcp_isn: the two flows' first packets at most this far apart. */
#define CID_NATLINK_ISN_WINDOW_US 1000000LL

/*
 * Finds NAT links among the flows of capture capture_id (0 = every capture,
 * each on its own) and inserts them into nat_link. Two flows of the same
 * capture are linked when they have the same protocol, server address and
 * port, different client addresses, and
 *  (a) the same TLS ClientHello random (not all zeros): method
 *      'client_random'; two hellos with the same random are one hello,
 *      RFC 8446 section 4.1.2 / RFC 5246 section 7.4.1.2 make it 32 random
 *      bytes chosen per connection;
 *  (b) else the same TCP initial sequence number (both saw a SYN; NAT keeps
 *      the ISN, RFC 9293 section 3.4.1 has each connection pick its own) and
 *      first packets within CID_NATLINK_ISN_WINDOW_US, and no different
 *      client randoms: method 'tcp_isn'.
 * The inner flow is the one seen first (the veth side: the packet reaches
 * the veth before it is NATed onto the uplink); on a tie, the one whose
 * client address is the client of fewer flows in the capture (the node
 * address carries every host and pod connection), then the lower id.
 * A pair already linked (by any method, either way round) is not linked
 * again, so running twice changes nothing. Writes in the store's batch and
 * flushes it. Returns the number of links inserted, or -CID_EDB (message in
 * cid_store_errmsg or the connection's sqlite3_errmsg).
 */
int cid_natlink_build(struct cid_store *s, int64_t capture_id);

#endif /* CID_NATLINK_H */
