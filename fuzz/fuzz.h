/*
 * fuzz - what every harness in fuzz/ shares.
 *
 * A harness is one file fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput()
 * for one parser of untrusted or semi-trusted input.  It is built twice:
 * with clang's libFuzzer (make fuzz) and as a plain replay program
 * (fuzz/replay.c) that make check runs over fuzz/corpus/NAME/.  A harness
 * checks invariants (round trips, bounds, determinism), not only that the
 * parser survives: a broken one is reported with FUZZ_ASSERT, which aborts,
 * so libFuzzer keeps the input and the replay fails.
 */
#ifndef TERN_FUZZ_H
#define TERN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline _Noreturn void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

#define FUZZ_ASSERT(cond) \
	do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond); } while (0)

/* Input consumed from the front, for harnesses that draw parameters (a
 * size, a chunk length) as well as the bytes to parse.  Past the end it
 * yields zeros, so every input is usable. */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 n;
};

static inline unsigned
fuzz_byte(struct fuzz_in *in)
{
	unsigned	 c;

	if (in->n == 0)
		return 0;
	c = in->p[0];
	in->p++;
	in->n--;
	return c;
}

/* A small deterministic generator (xorshift32) for choices that must not
 * use up the input, such as where a stream is cut into chunks. */
static inline uint32_t
fuzz_rand(uint32_t *state)
{
	uint32_t	 x = *state ? *state : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

#endif
