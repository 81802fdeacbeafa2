/*
 * fuzz_smtp_policy - a value of smtp_tls_policy_maps (smtp/smtp_policy.c),
 * "level [name=value ...]".  Invariants: an accepted value gives one of
 * the four levels, and its first word is a level word; the same value with
 * the first word in upper case gives the same answer (levels are matched
 * without regard to case); a refusal has a reason; deterministic.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "smtp/smtp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*v = (const char *)data, *why = NULL, *why2 = NULL;
	char		*up;
	int		 level = -1, level2 = -1, r, r2;
	size_t		 i;

	r = smtp_policy_parse(v, size, &level, &why);
	if (r == 0) {
		FUZZ_ASSERT(level >= CONFIG_TLS_NONE &&
		    level <= CONFIG_TLS_VERIFY);
		for (i = 0; i < size && (v[i] == ' ' || v[i] == '\t'); i++)
			;
		FUZZ_ASSERT(i < size);
	} else
		FUZZ_ASSERT(r == -1 && why != NULL && why[0] != '\0');
	up = malloc(size + 1);
	FUZZ_ASSERT(up != NULL);
	memcpy(up, v, size);
	for (i = 0; i < size && (up[i] == ' ' || up[i] == '\t'); i++)
		;
	for (; i < size && up[i] != ' ' && up[i] != '\t'; i++)
		up[i] = (char)toupper((unsigned char)up[i]);
	r2 = smtp_policy_parse(up, size, &level2, &why2);
	FUZZ_ASSERT(r == r2 && (r != 0 || level == level2));
	free(up);
	return 0;
}
