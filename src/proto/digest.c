/* digest.c - libcrypto message digests, looked up once (see digest.h). */
#include <pthread.h>

#include "callerid/digest.h"

static EVP_MD *fetched[CID_MD__COUNT];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	/* A first digest the implicit way sets up libcrypto's default
	 * context. When that fails (out of memory) nothing is fetched:
	 * OpenSSL 3.0's EVP_MD_fetch dereferences the half-made context's
	 * lock (tests/oom), where EVP_Digest fails cleanly. */
	if (EVP_Digest("", 0, md, &len, EVP_sha256(), NULL) != 1)
		return;
	fetched[CID_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	fetched[CID_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
	fetched[CID_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *cid_md(enum cid_md which)
{
	pthread_once(&once, fetch_all);
	if (which < CID_MD__COUNT && fetched[which])
		return fetched[which];
	switch (which) {
	case CID_MD5:
		return EVP_md5();
	case CID_SHA1:
		return EVP_sha1();
	default:
		return EVP_sha256();
	}
}
