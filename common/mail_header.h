/*
 * mail_header - the header section of an RFC 5322 message held in memory
 * with LF line endings: where it ends, its fields one by one, and the
 * addresses of an address-list field (To:, Cc:, Bcc:).  Used by sendmail
 * (-t) and by pickup (which fields are missing, Bcc: removal) on input
 * from local users, so every function takes a length, never reads past
 * it, and needs no NUL.
 */
#ifndef TERN_MAIL_HEADER_H
#define TERN_MAIL_HEADER_H

#include <stddef.h>

/* One field: name[0..namelen) and the whole field, continuation lines and
 * final LF included, at buf[start..start+len). */
struct mail_field {
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* after the colon */
	size_t		 valuelen;	/* to the end of the field, LF excluded */
	size_t		 start, len;
};

/* The header section of buf[0..len): fields and their continuation lines
 * up to the first line that is neither.  Returns the header's length;
 * *body_off is where the body begins (after the empty line that ends the
 * header, if there is one). */
size_t	mail_header_end(const char *buf, size_t len, size_t *body_off);
/* The field at *off in the header buf[0..hlen), advancing *off.  1, or 0
 * at the end of the header. */
int	mail_header_next(const char *buf, size_t hlen, size_t *off,
	    struct mail_field *);
/* Is f named name (case-insensitive)? */
int	mail_field_is(const struct mail_field *f, const char *name);
/* Call cb for each address (addr-spec, without angle brackets or display
 * names or comments) of the address-list s[0..len); groups are opened.
 * Returns how many it found. */
int	mail_addrlist(const char *s, size_t len,
	    void (*cb)(void *arg, const char *addr, size_t addrlen), void *arg);

#endif
