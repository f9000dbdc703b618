/*
 * Replays a fuzz corpus without libFuzzer: each argument is a file or a
 * directory of files, fed once to LLVMFuzzerTestOneInput. Prints TAP: one
 * "ok" line per corpus (a crash or sanitizer report fails the process).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long files = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;
			char path[4096];
			if (!d)
				continue;
			while ((de = readdir(d))) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
				if (run_file(path) != 0)
					bad++;
				files++;
			}
			closedir(d);
		} else {
			if (run_file(argv[i]) != 0)
				bad++;
			files++;
		}
	}
	printf("# replayed %lu inputs\n", files);
	if (files == 0) {
		printf("not ok 1 - corpus empty\n");
		return 1;
	}
	printf("%s 1 - replay %lu inputs%s\n", bad ? "not ok" : "ok", files, bad ? " (unreadable files)" : "");
	return bad ? 1 : 0;
}
