/*
 * siphash - SipHash-2-4 (Aumasson and Bernstein), a keyed 64-bit hash for
 * hash tables whose keys come from outside: without the key nobody can
 * choose keys that collide, so a table stays linear.  Written here from
 * the published description; checked against its test vectors
 * (tests/unit/test_siphash.c).  siphash_process_key() gives a key drawn
 * once per process from arc4random_buf().
 */
#ifndef TERN_SIPHASH_H
#define TERN_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_SIZE	16

/* A hash being computed over pieces fed one after the other. */
struct siphash {
	uint64_t	 v[4];
	uint64_t	 tail;		/* bytes not yet in a word */
	size_t		 len;		/* bytes fed in all */
};

void		 siphash_init(struct siphash *,
		    const uint8_t key[SIPHASH_KEY_SIZE]);
void		 siphash_update(struct siphash *, const void *, size_t);
uint64_t	 siphash_final(struct siphash *);
uint64_t	 siphash(const uint8_t key[SIPHASH_KEY_SIZE], const void *,
		    size_t);
const uint8_t	*siphash_process_key(void);

#endif
