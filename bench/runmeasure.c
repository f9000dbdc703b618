/*
 * runmeasure.c - run a command and record what it cost.
 *
 *   runmeasure OUTFILE -- CMD [ARGS...]
 *
 * Forks and execs CMD (PATH search), waits with wait4 and writes to OUTFILE,
 * one key=value per line:
 *   wall=SECONDS user=SECONDS sys=SECONDS maxrss_kb=KB status=N
 * maxrss_kb is ru_maxrss of the child (Linux: the largest of the child and
 * the descendants it waited for). CMD's stdin, stdout and stderr are
 * inherited. Exits with CMD's exit status (128 + signal number when it was
 * killed, 127 when it could not be run), or 2 on usage error and 1 when
 * runmeasure itself fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double tv_secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: runmeasure OUTFILE -- CMD [ARGS...]\n");
		return 2;
	}
	const char *outfile = argv[1];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("runmeasure: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "runmeasure: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("runmeasure: wait4");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	int rc = WIFEXITED(status) ? WEXITSTATUS(status)
				   : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;

	FILE *out = fopen(outfile, "w");
	if (!out) {
		fprintf(stderr, "runmeasure: %s: %s\n", outfile, strerror(errno));
		return 1;
	}
	fprintf(out, "wall=%.6f\nuser=%.6f\nsys=%.6f\nmaxrss_kb=%ld\nstatus=%d\n", wall,
		tv_secs(ru.ru_utime), tv_secs(ru.ru_stime), ru.ru_maxrss, rc);
	if (fclose(out) != 0) {
		fprintf(stderr, "runmeasure: %s: %s\n", outfile, strerror(errno));
		return 1;
	}
	return rc;
}
