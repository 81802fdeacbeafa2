/*
 * siphash - SipHash-2-4 over pieces (siphash.h).  The state is four 64-bit
 * words mixed by SipRound: two rounds per 8-byte little-endian word of
 * input, four after the last word (which holds the length's low byte).
 * The process key is drawn once, at first use, with arc4random_buf(),
 * which cannot fail (a getrandom() of our own needed a weaker fallback
 * for the case it did).
 */
#include <stdlib.h>

#include "siphash.h"

#define ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

static void
siphash_round(uint64_t *v)
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t
siphash_le64(const uint8_t *p)
{
	uint64_t	 w = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		w = (w << 8) | p[i];
	return w;
}

static void
siphash_word(struct siphash *h, uint64_t m)
{
	h->v[3] ^= m;
	siphash_round(h->v);
	siphash_round(h->v);
	h->v[0] ^= m;
}

void
siphash_init(struct siphash *h, const uint8_t key[SIPHASH_KEY_SIZE])
{
	uint64_t	 k0 = siphash_le64(key), k1 = siphash_le64(key + 8);

	h->v[0] = k0 ^ 0x736f6d6570736575ULL;
	h->v[1] = k1 ^ 0x646f72616e646f6dULL;
	h->v[2] = k0 ^ 0x6c7967656e657261ULL;
	h->v[3] = k1 ^ 0x7465646279746573ULL;
	h->tail = 0;
	h->len = 0;
}

void
siphash_update(struct siphash *h, const void *data, size_t n)
{
	const uint8_t	*p = data;

	for (; n > 0; n--, p++) {
		h->tail |= (uint64_t)*p << (8 * (h->len % 8));
		if (++h->len % 8 == 0) {
			siphash_word(h, h->tail);
			h->tail = 0;
		}
	}
}

uint64_t
siphash_final(struct siphash *h)
{
	int	 i;

	siphash_word(h, h->tail | ((uint64_t)(h->len & 0xff) << 56));
	h->v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		siphash_round(h->v);
	return h->v[0] ^ h->v[1] ^ h->v[2] ^ h->v[3];
}

uint64_t
siphash(const uint8_t key[SIPHASH_KEY_SIZE], const void *data, size_t n)
{
	struct siphash	 h;

	siphash_init(&h, key);
	siphash_update(&h, data, n);
	return siphash_final(&h);
}

const uint8_t *
siphash_process_key(void)
{
	static uint8_t		 key[SIPHASH_KEY_SIZE];
	static int		 drawn;

	if (!drawn) {
		arc4random_buf(key, sizeof(key));
		drawn = 1;
	}
	return key;
}
