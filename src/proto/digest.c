/* digest.c - libcrypto message digests, looked up once (see digest.h). */
#include <pthread.h>

#include "callerid/digest.h"

static EVP_MD *fetched[CID_MD__COUNT];
static EVP_CIPHER *ciphers[CID_CIPHER__COUNT];
static bool all_fetched;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	/* A first digest the implicit way sets up libcrypto's default
	 * context. When that fails (out of memory) nothing more is asked of
	 * libcrypto: OpenSSL 3.0 then dereferences the half-made context's
	 * lock on the next fetch, implicit (EVP_md5() in EVP_Digest) or not
	 * (tests/oom). */
	if (EVP_Digest("", 0, md, &len, EVP_sha256(), NULL) != 1)
		return;
	fetched[CID_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	fetched[CID_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
	fetched[CID_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
	ciphers[CID_AES128_GCM] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	ciphers[CID_AES128_ECB] = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	all_fetched = fetched[CID_MD5] && fetched[CID_SHA1] && fetched[CID_SHA256] && ciphers[CID_AES128_GCM] &&
		      ciphers[CID_AES128_ECB];
}

bool cid_md_init(void)
{
	pthread_once(&once, fetch_all);
	return all_fetched;
}

const EVP_MD *cid_md(enum cid_md which)
{
	pthread_once(&once, fetch_all);
	return which < CID_MD__COUNT ? fetched[which] : NULL;
}

const EVP_CIPHER *cid_cipher(enum cid_cipher which)
{
	pthread_once(&once, fetch_all);
	return which < CID_CIPHER__COUNT ? ciphers[which] : NULL;
}
