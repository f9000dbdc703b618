/* digest.h - libcrypto message digests, looked up once.
 *
 * EVP_md5(), EVP_sha1() and EVP_sha256() make OpenSSL 3 fetch the algorithm
 * from its provider on every EVP_Digest() call: a third of the cost of a
 * JA3/JA4 fingerprint or a Community ID. These are fetched once
 * (thread-safe) and kept for the life of the process.
 *
 * Commands that hash call cid_md_init() before they start threads or open
 * anything, and stop when it fails: after a failed first setup OpenSSL 3.0
 * may crash on any later fetch, so no implicit EVP_*() fallback is used.
 */
#ifndef CALLERID_DIGEST_H
#define CALLERID_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum cid_md { CID_MD5, CID_SHA1, CID_SHA256, CID_MD__COUNT };
/* The ciphers of QUIC's Initial packets (quic.c). */
enum cid_cipher { CID_AES128_GCM, CID_AES128_ECB, CID_CIPHER__COUNT };

/* Fetches the digests and the ciphers; false when any could not be (out
 * of memory). */
bool cid_md_init(void);

/* The digest; NULL when cid_md_init() failed (callers then give no hash). */
const EVP_MD *cid_md(enum cid_md which);
/* HMAC-SHA256 (RFC 2104) of msg under key into out; false when libcrypto
 * fails (out of memory). */
bool cid_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t out[32]);

/* The cipher; NULL when cid_md_init() failed. */
const EVP_CIPHER *cid_cipher(enum cid_cipher which);

#endif
