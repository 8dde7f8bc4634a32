// SPDX-License-Identifier: BSD-2-Clause
/*
 * The process bench forks and execs per call: a static musl binary that
 * computes the same add as the vmlet and Wasm guests. `add A B` exits
 * with A + B (status 3 for add 1 2); `add idle` writes one byte to stdout
 * and waits for a signal, as an idle process for the density figures.
 * Under the bench's seccomp filter it may make only the system calls
 * musl's start-up and exit need.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "idle")) {
		if (write(1, "i", 1) != 1)
			return 1;
		pause();
		return 0;
	}
	if (argc != 3)
		return 255;
	return atoi(argv[1]) + atoi(argv[2]);
}
