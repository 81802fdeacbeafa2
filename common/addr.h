/*
 * addr - RFC 5321 mailbox syntax, shared by every daemon.
 *
 * A mailbox is Local-part "@" ( Domain / address-literal ), section 4.1.2:
 * the local part is a Dot-string or a Quoted-string, the domain is
 * dot-separated LDH labels (each 1..63 octets, the whole at most 255) or a
 * bracketed IPv4/IPv6 literal.  Limits from section 4.5.3.1: local part at
 * most 64 octets, path at most 256.  8-bit octets are refused (SMTPUTF8
 * comes later).  All functions are pure and take a length, so they can be
 * fuzzed on arbitrary bytes.
 */
#ifndef TERN_ADDR_H
#define TERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64
#define ADDR_DOMAIN_MAX	255
#define ADDR_PATH_MAX	256

/* 1 if s[0..len) is a valid Mailbox, else 0 with *err (if non-NULL) set to
 * a short reason ("bad domain", "local part too long", ...). */
int	addr_valid_mailbox(const char *s, size_t len, const char **err);
/* 1 if s[0..len) is a valid Domain (no literal), else 0. */
int	addr_valid_domain(const char *s, size_t len);
/* 1 if s[0..len) is a valid address-literal ("[1.2.3.4]", "[IPv6:...]"). */
int	addr_valid_literal(const char *s, size_t len);
/* Pointer to the domain part of a valid mailbox (after the last '@'),
 * or NULL if there is none. */
const char *addr_domain(const char *mailbox);
/* Copy the local part (unquoted if it was a Quoted-string) into out.
 * 0 or -1 if it does not fit / addr has no '@'. */
int	addr_local_part(const char *mailbox, char *out, size_t outlen);
/* The canonical spelling of the valid mailbox s[0..len), or of a bare
 * "postmaster" in any case: the local part without quotes when its octets
 * form a Dot-string, else quoted with only '"' and '\\' escaped (needless
 * backslashes dropped); the domain in lower case; "postmaster" for the
 * bare one.  Two spellings of one address give one string, so recipients
 * can be compared as text, and the result is itself valid and canonical
 * (never longer than s).  The local part keeps its case: it may matter to
 * a remote host (RFC 5321 section 2.4).  0, or -1 if s is not a valid
 * mailbox or the result does not fit out[0..outlen) with a NUL. */
int	addr_canonical(const char *s, size_t len, char *out, size_t outlen);
/* The login name that receives mail for a local recipient: the local part
 * (unquoted), lower-cased; an address without a domain ("postmaster", RFC
 * 5321 section 4.1.1.3) is all local part.  smtpd (RCPT check) and deliver
 * both use this one rule, so whatever smtpd accepts deliver can place.
 * 0, or -1 if it does not fit or is not [a-z0-9._-] (never sent to NSS). */
int	addr_local_user(const char *rcpt, char *out, size_t outlen);
/* The same local part, unquoted and lower-cased, without the login name
 * rule (aliases and extensions: "a+b").  0, or -1 if it does not fit. */
int	addr_local_name(const char *rcpt, char *out, size_t outlen);
/* Lower-case ASCII copy of s into out (truncates safely); returns out. */
char	*addr_lower(const char *s, char *out, size_t outlen);

#endif
