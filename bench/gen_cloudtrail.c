/*
 * gen_cloudtrail OUTDIR NRECORDS [RECORDS_PER_FILE]
 *
 * Writes a deterministic CloudTrail S3-delivery tree of gzipped
 * {"Records":[...]} files (and one digest file per day) under
 * OUTDIR/AWSLogs/111122223333/, ~1 KB per record: the ORIGIN.md incident
 * (ec2:DescribeTags, Client.UnauthorizedOperation, from
 * assumed-role/eks-worker-role/i-... on every node, rusoto user agent,
 * one VPC endpoint, every few minutes) mixed with ordinary traffic (S3,
 * STS, CloudWatch, KMS; IPv6 and AWS-service sources; invokedBy; a few
 * duplicate eventIDs as CloudTrail delivers them). Prints the number of
 * records and files written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#define NODES 64u
#define START_S 1714521600LL /* 2024-05-01T00:00:00Z */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static int mkdirs(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return -1;
			tmp[i] = c;
		}
	}
	return 0;
}

static void fmt_time(char *buf, size_t n, int64_t s)
{
	time_t t = (time_t)s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void uuid(char *buf, size_t n, uint64_t a)
{
	uint64_t b = next_rand();
	snprintf(buf, n, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-a%03" PRIx64 "-%012" PRIx64,
		 a & 0xffffffffu, (a >> 32) & 0xffffu, b & 0xfffu, (b >> 12) & 0xfffu,
		 (uint64_t)((b >> 24) & 0xffffffffffffu));
}

/* One record as JSON into buf; returns its length. */
static int record(char *buf, size_t n, uint64_t seq, int64_t ts, char *id_out, size_t id_len)
{
	char t[32], id[48], req[48];
	unsigned node = (unsigned)(next_rand() % NODES);
	unsigned kind = (unsigned)(next_rand() % 100);
	bool tls13 = next_rand() % 2;
	const char *ver = tls13 ? "TLSv1.3" : "TLSv1.2";
	const char *cs = tls13 ? "TLS_AES_128_GCM_SHA256" : "ECDHE-RSA-AES128-GCM-SHA256";
	fmt_time(t, sizeof(t), ts);
	uuid(id, sizeof(id), seq * 0x100000001b3ull);
	uuid(req, sizeof(req), seq ^ 0x5555);
	snprintf(id_out, id_len, "%s", id);
	if (kind < 40) {
		/* the incident: DescribeTags from the node role through the vpce */
		return snprintf(buf, n,
			"{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"AssumedRole\","
			"\"principalId\":\"AROAEXAMPLEWORKER:i-0a1b2c3d4e5f%04u\",\"arn\":\"arn:aws:sts::"
			"111122223333:assumed-role/eks-worker-role/i-0a1b2c3d4e5f%04u\",\"accountId\":"
			"\"111122223333\",\"accessKeyId\":\"ASIAEXAMPLE%08u\",\"sessionContext\":{"
			"\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROAEXAMPLEWORKER\","
			"\"arn\":\"arn:aws:iam::111122223333:role/eks-worker-role\",\"accountId\":"
			"\"111122223333\",\"userName\":\"eks-worker-role\"},\"attributes\":{"
			"\"creationDate\":\"%s\",\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":"
			"\"2.0\"}},\"eventTime\":\"%s\",\"eventSource\":\"ec2.amazonaws.com\","
			"\"eventName\":\"DescribeTags\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":"
			"\"10.0.%u.%u\",\"userAgent\":\"rusoto/0.47.0 rust/1.62.0 linux\",\"errorCode\":"
			"\"Client.UnauthorizedOperation\",\"errorMessage\":\"You are not authorized to "
			"perform this operation. User: arn:aws:sts::111122223333:assumed-role/"
			"eks-worker-role/i-0a1b2c3d4e5f%04u is not authorized to perform: "
			"ec2:DescribeTags because no identity-based policy allows the ec2:DescribeTags "
			"action\",\"requestParameters\":{\"filterSet\":{\"items\":[{\"name\":"
			"\"resource-id\",\"valueSet\":{\"items\":[{\"value\":\"i-0a1b2c3d4e5f%04u\"}]}}]}},"
			"\"responseElements\":null,\"requestID\":\"%s\",\"eventID\":\"%s\",\"readOnly\":"
			"true,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
			"\"recipientAccountId\":\"111122223333\",\"vpcEndpointId\":\"vpce-1a2b3c\","
			"\"vpcEndpointAccountId\":\"111122223333\",\"eventCategory\":\"Management\","
			"\"tlsDetails\":{\"tlsVersion\":\"%s\",\"cipherSuite\":\"%s\","
			"\"clientProvidedHostHeader\":\"ec2.us-east-1.amazonaws.com\"}}",
			node, node, node, t, t, node / 32, 10 + node % 32, node, node, req, id, ver, cs);
	}
	if (kind < 70) {
		/* S3 data events from pods (IRSA), some over IPv6 */
		bool v6 = kind < 45;
		char ip[64];
		if (v6)
			snprintf(ip, sizeof(ip), "2600:1f18:abcd:%x::%x", node, (unsigned)(seq % 4096));
		else
			snprintf(ip, sizeof(ip), "10.0.%u.%u", node / 32, 10 + node % 32);
		return snprintf(buf, n,
			"{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"AssumedRole\","
			"\"principalId\":\"AROAEXAMPLEAPP:botocore-session-%u\",\"arn\":\"arn:aws:sts::"
			"111122223333:assumed-role/app-irsa-role/botocore-session-%u\",\"accountId\":"
			"\"111122223333\",\"accessKeyId\":\"ASIAEXAMPLEAPP%04u\",\"sessionContext\":{"
			"\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROAEXAMPLEAPP\",\"arn\":"
			"\"arn:aws:iam::111122223333:role/app-irsa-role\",\"accountId\":\"111122223333\","
			"\"userName\":\"app-irsa-role\"},\"webIdFederationData\":{\"federatedProvider\":"
			"\"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
			"EXAMPLE\",\"attributes\":{}},\"attributes\":{\"creationDate\":\"%s\","
			"\"mfaAuthenticated\":\"false\"}}},\"eventTime\":\"%s\",\"eventSource\":"
			"\"s3.amazonaws.com\",\"eventName\":\"%s\",\"awsRegion\":\"us-east-1\","
			"\"sourceIPAddress\":\"%s\",\"userAgent\":\"[Boto3/1.34.0 md/Botocore#1.34.0 "
			"ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.6]\",\"requestParameters\":"
			"{\"bucketName\":\"app-data-bucket\",\"Host\":\"app-data-bucket.s3.us-east-1."
			"amazonaws.com\",\"key\":\"objects/%016" PRIx64 "\"},\"responseElements\":null,"
			"\"additionalEventData\":{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":"
			"\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":0,\"AuthenticationMethod\":"
			"\"AuthHeader\",\"x-amz-id-2\":\"EXAMPLE\",\"bytesTransferredOut\":%u},"
			"\"requestID\":\"%s\",\"eventID\":\"%s\",\"readOnly\":true,\"resources\":[{"
			"\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::app-data-bucket/objects/"
			"x\"}],\"eventType\":\"AwsApiCall\",\"managementEvent\":false,"
			"\"recipientAccountId\":\"111122223333\",\"eventCategory\":\"Data\","
			"\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":"
			"\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"app-data-bucket.s3."
			"us-east-1.amazonaws.com\"}}",
			node, node, node, t, t, kind % 3 ? "GetObject" : "PutObject", ip, next_rand(),
			(unsigned)(next_rand() % 100000), req, id);
	}
	if (kind < 85) {
		/* KMS Decrypt invoked by an AWS service: no tlsDetails */
		return snprintf(buf, n,
			"{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"AWSService\","
			"\"invokedBy\":\"secretsmanager.amazonaws.com\"},\"eventTime\":\"%s\","
			"\"eventSource\":\"kms.amazonaws.com\",\"eventName\":\"Decrypt\",\"awsRegion\":"
			"\"us-east-1\",\"sourceIPAddress\":\"secretsmanager.amazonaws.com\","
			"\"userAgent\":\"secretsmanager.amazonaws.com\",\"requestParameters\":{"
			"\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\",\"encryptionContext\":{"
			"\"SecretARN\":\"arn:aws:secretsmanager:us-east-1:111122223333:secret:app-%u\","
			"\"SecretVersionId\":\"%s\"}},\"responseElements\":null,\"requestID\":\"%s\","
			"\"eventID\":\"%s\",\"readOnly\":true,\"resources\":[{\"accountId\":"
			"\"111122223333\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:us-east-1:"
			"111122223333:key/0f0e0d0c-0b0a-0908-0706-050403020100\"}],\"eventType\":"
			"\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"111122223333\","
			"\"sharedEventID\":\"%s\",\"eventCategory\":\"Management\"}",
			t, node, req, req, id, req);
	}
	/* CloudWatch PutMetricData from the node role, public IP via NAT */
	return snprintf(buf, n,
		"{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"AssumedRole\","
		"\"principalId\":\"AROAEXAMPLEWORKER:i-0a1b2c3d4e5f%04u\",\"arn\":\"arn:aws:sts::"
		"111122223333:assumed-role/eks-worker-role/i-0a1b2c3d4e5f%04u\",\"accountId\":"
		"\"111122223333\",\"accessKeyId\":\"ASIAEXAMPLE%08u\",\"sessionContext\":{"
		"\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROAEXAMPLEWORKER\",\"arn\":"
		"\"arn:aws:iam::111122223333:role/eks-worker-role\",\"accountId\":\"111122223333\","
		"\"userName\":\"eks-worker-role\"},\"attributes\":{\"creationDate\":\"%s\","
		"\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":\"2.0\"}},\"eventTime\":\"%s\","
		"\"eventSource\":\"monitoring.amazonaws.com\",\"eventName\":\"PutMetricData\","
		"\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"203.0.113.%u\",\"userAgent\":"
		"\"aws-sdk-go/1.44.0 (go1.20; linux; amd64)\",\"requestParameters\":{\"namespace\":"
		"\"ContainerInsights\",\"metricData\":[{\"metricName\":\"node_cpu_utilization\","
		"\"value\":%u,\"unit\":\"Percent\"},{\"metricName\":\"node_memory_utilization\","
		"\"value\":%u,\"unit\":\"Percent\"}]},\"responseElements\":null,\"requestID\":"
		"\"%s\",\"eventID\":\"%s\",\"readOnly\":false,\"eventType\":\"AwsApiCall\","
		"\"managementEvent\":true,\"recipientAccountId\":\"111122223333\",\"eventCategory\":"
		"\"Management\",\"tlsDetails\":{\"tlsVersion\":\"%s\",\"cipherSuite\":\"%s\","
		"\"clientProvidedHostHeader\":\"monitoring.us-east-1.amazonaws.com\"}}",
		node, node, node, t, t, 1 + node % 4, (unsigned)(next_rand() % 100),
		(unsigned)(next_rand() % 100), req, id, ver, cs);
}

int main(int argc, char **argv)
{
	char dir[4096], path[4400], day[32], *rec;
	char dup_id[48] = "", id[48];
	uint64_t total, per_file = 1000, written = 0, files = 0;
	size_t rec_cap = 16384;
	int last_day = -1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: gen_cloudtrail OUTDIR NRECORDS [RECORDS_PER_FILE]\n");
		return 2;
	}
	total = strtoull(argv[2], NULL, 10);
	if (argc == 4)
		per_file = strtoull(argv[3], NULL, 10);
	if (per_file == 0)
		per_file = 1000;
	rec = malloc(rec_cap);
	if (!rec)
		return 1;
	/* Spread the records over a week: 604800 s / total per record. */
	double step = total ? 604800.0 / (double)total : 1.0;
	while (written < total) {
		int64_t ts0 = START_S + (int64_t)((double)written * step);
		time_t tt = (time_t)ts0;
		struct tm tm;
		gmtime_r(&tt, &tm);
		snprintf(dir, sizeof(dir), "%s/AWSLogs/111122223333/CloudTrail/us-east-1/%04d/%02d/%02d",
			 argv[1], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		if (mkdirs(dir) != 0) {
			fprintf(stderr, "gen_cloudtrail: %s: %s\n", dir, strerror(errno));
			return 1;
		}
		if (tm.tm_mday != last_day) {
			/* one digest file per day, to be recognised and skipped */
			char ddir[4200];
			snprintf(ddir, sizeof(ddir),
				 "%s/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/%04d/%02d/%02d",
				 argv[1], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
			strftime(day, sizeof(day), "%Y%m%dT%H%MZ", &tm);
			if (mkdirs(ddir) == 0) {
				snprintf(path, sizeof(path),
					 "%s/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_%s.json.gz",
					 ddir, day);
				gzFile d = gzopen(path, "wb1");
				if (d) {
					gzprintf(d, "{\"awsAccountId\":\"111122223333\",\"digestStartTime\":"
						    "\"%04d-%02d-%02dT00:00:00Z\",\"digestEndTime\":"
						    "\"%04d-%02d-%02dT01:00:00Z\",\"digestS3Bucket\":\"trail-bucket\","
						    "\"digestSignatureAlgorithm\":\"SHA256withRSA\",\"logFiles\":[]}",
						 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
						 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
					gzclose(d);
				}
			}
			last_day = tm.tm_mday;
		}
		strftime(day, sizeof(day), "%Y%m%dT%H%MZ", &tm);
		snprintf(path, sizeof(path), "%s/111122223333_CloudTrail_us-east-1_%s_%08" PRIx64 ".json.gz",
			 dir, day, files);
		gzFile gz = gzopen(path, "wb1");
		if (!gz) {
			fprintf(stderr, "gen_cloudtrail: %s: cannot create\n", path);
			return 1;
		}
		gzputs(gz, "{\"Records\":[");
		for (uint64_t i = 0; i < per_file && written < total; i++, written++) {
			int64_t ts = START_S + (int64_t)((double)written * step);
			int len = record(rec, rec_cap, written, ts, id, sizeof(id));
			if (len < 0 || (size_t)len >= rec_cap)
				return 1;
			if (i)
				gzputc(gz, ',');
			gzwrite(gz, rec, (unsigned)len);
			/* CloudTrail may deliver an event twice: repeat one per file. */
			if (i == 1 && dup_id[0] && written + 1 < total) {
				gzputc(gz, ',');
				gzwrite(gz, rec, (unsigned)len);
				written++;
				i++;
			}
			memcpy(dup_id, id, sizeof(id));
		}
		gzputs(gz, "]}");
		if (gzclose(gz) != Z_OK) {
			fprintf(stderr, "gen_cloudtrail: %s: write failed\n", path);
			return 1;
		}
		files++;
	}
	free(rec);
	printf("%" PRIu64 " records in %" PRIu64 " files under %s/AWSLogs\n", written, files, argv[1]);
	return 0;
}
