/* digest.h - libcrypto message digests, looked up once.
 *
 * EVP_md5(), EVP_sha1() and EVP_sha256() make OpenSSL 3 fetch the algorithm
 * from its provider on every EVP_Digest() call: a third of the cost of a
 * JA3/JA4 fingerprint or a Community ID. These are fetched on first use
 * (thread-safe) and kept for the life of the process.
 */
#ifndef CALLERID_DIGEST_H
#define CALLERID_DIGEST_H

#include <openssl/evp.h>

enum cid_md { CID_MD5, CID_SHA1, CID_SHA256, CID_MD__COUNT };

/* The digest, never NULL (falls back to the implicit-fetch EVP_*()). */
const EVP_MD *cid_md(enum cid_md which);

#endif
