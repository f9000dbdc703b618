/*
 * callerid - which pod or host process made the AWS API call in CloudTrail?
 * Subcommand dispatch and exit codes; nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "callerid/cli.h"

#ifndef CID_VERSION
#define CID_VERSION "0.1.0"
#endif

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd cmds[] = {
	{"capture", cid_cmd_capture, "capture live on this node into flows with TLS metadata (tcpdump replacement)"},
	{"read", cid_cmd_read, "read pcap/pcapng files into flows with TLS metadata"},
	{"flows", cid_cmd_flows, "list recorded flows with their TLS columns"},
	{"ingest", cid_cmd_ingest, "load CloudTrail files (S3 delivery, lookup-events, JSON lines)"},
	{"events", cid_cmd_events, "list CloudTrail events; --summary for the patterns"},
	{"timeline", cid_cmd_timeline, "one time-ordered story per owner (text, JSON, HTML)"},
	{"correlate", cid_cmd_correlate, "name the pod or process behind each CloudTrail event"},
	{"k8s", cid_cmd_k8s, "load kubectl get pods/nodes -o json snapshots"},
	{"merge", cid_cmd_merge, "copy other callerid databases (one per node) into this one"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: callerid <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n`callerid <command> --help` for the command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("callerid %s\n", CID_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "callerid: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
