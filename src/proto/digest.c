/* digest.c - libcrypto message digests, looked up once (see digest.h). */
#include <pthread.h>
#include <string.h>

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

/* RFC 2104 over the SHA-256 fetched above: EVP_Q_mac and HMAC() look the
 * MAC and the digest up by name on every call, which was most of a QUIC
 * flow's key derivation (tests/hostile, a flood of Initials). */
bool cid_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t out[32])
{
	enum { BLOCK = 64 };
	const EVP_MD *sha256 = cid_md(CID_SHA256);
	uint8_t k[BLOCK], pad[BLOCK], inner[32];
	unsigned len = 0;
	EVP_MD_CTX *ctx;
	bool ok;
	if (!sha256 || !(ctx = EVP_MD_CTX_new()))
		return false;
	memset(k, 0, sizeof(k));
	if (key_len > BLOCK)
		ok = EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, key, key_len) == 1 &&
		     EVP_DigestFinal_ex(ctx, k, &len) == 1;
	else
		ok = (memcpy(k, key, key_len), true);
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, pad, BLOCK) == 1 &&
	     EVP_DigestUpdate(ctx, msg, msg_len) == 1 && EVP_DigestFinal_ex(ctx, inner, &len) == 1;
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, pad, BLOCK) == 1 &&
	     EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1 &&
	     len == 32;
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok;
}
