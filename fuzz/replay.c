/*
 * replay - run a harness over saved inputs without libFuzzer, so that make
 * check replays every corpus with the ordinary compiler (gcc or clang, with
 * sanitizers under SANITIZE=1).  Arguments are files or directories (every
 * regular file in them, in name order).  Exit status 0 when every input
 * ran; a broken invariant aborts the program, naming the input first.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* The largest input replayed; corpus files are small. */
#define REPLAY_MAX	(4 * 1024 * 1024)

static int
replay_file(const char *path)
{
	FILE		*f;
	uint8_t		*data, *exact;
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	data = malloc(REPLAY_MAX);
	if (data == NULL) {
		fclose(f);
		fprintf(stderr, "replay: out of memory\n");
		return -1;
	}
	n = fread(data, 1, REPLAY_MAX, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "replay: %s: read error or too large\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	/* An exact-size copy, so that a sanitizer sees any read past the end. */
	if ((exact = realloc(data, n > 0 ? n : 1)) != NULL)
		data = exact;
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

static int
replay_dir(const char *dir, int *count)
{
	struct dirent	**ent;
	struct stat	 st;
	char		 path[4096];
	int		 n, i, rc = 0;

	if ((n = scandir(dir, &ent, NULL, alphasort)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ent[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				rc = -1;
			else
				(*count)++;
		}
		free(ent[i]);
	}
	free(ent);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat	 st;
	uint8_t		 empty = 0;
	int		 i, count = 0, rc = 0;

	/* libFuzzer always tries the empty input; so does the replay. */
	LLVMFuzzerTestOneInput(&empty, 0);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				rc = 1;
		} else if (replay_file(argv[i]) < 0)
			rc = 1;
		else
			count++;
	}
	printf("replay: %d inputs\n", count);
	return rc;
}
