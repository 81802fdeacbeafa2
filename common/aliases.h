/*
 * aliases - the aliases(5) file format, as Postfix's postalias and
 * local(8) read it: the parser newaliases builds alias_maps from, and the
 * splitter the local delivery agent uses on a looked-up value.
 *
 *	# comment
 *	name: target, target, ...
 *	"quoted name": target		(a name with ':' or white space)
 *	long: target,
 *	    target			(a line starting with white space
 *					 continues the previous one)
 *
 * A name is the local part to match, lower-cased (as Postfix's keys) and
 * at most MAP_KEY_MAX bytes; its value is the text after ':', white space
 * trimmed and continuation lines joined with one space, stored as it is.
 * The first of two equal names wins (the others are counted, for a
 * warning).  A target is one of (alias_target_next()):
 *
 *	user, user@domain	an address (ALIAS_ADDRESS)
 *	|command args		a command fed the message (ALIAS_COMMAND)
 *	/path/file		a file appended to (ALIAS_FILE)
 *	:include:/path/file	more targets read from a file (ALIAS_INCLUDE)
 *
 * each optionally in double quotes (which then may hold ',' and '\"'),
 * separated by commas or newlines.  The file is trusted as a
 * configuration file is, yet parsed as hostile: lines bounded by
 * MAP_LINE_MAX, NULs and control characters refused, a line without
 * ':' refused; every error names the file and line.
 */
#ifndef TERN_ALIASES_H
#define TERN_ALIASES_H

#include <stddef.h>

struct map_table;

/* Parse text[0..len) (name for messages): the table of name -> value,
 * *dups the repeated names dropped; or NULL with err "name:line: why". */
struct map_table *aliases_parse(const char *name, const char *text,
	    size_t len, size_t *dups, char *err, size_t errlen);

enum alias_kind { ALIAS_ADDRESS, ALIAS_COMMAND, ALIAS_FILE, ALIAS_INCLUDE };

struct alias_target {
	enum alias_kind	 kind;
	const char	*text;	/* address, command (after '|'), path; in the
				   caller's buffer, NUL-terminated */
};

/*
 * The next target of a value at *cursor (advanced past it): 1 and *t
 * (its text in buf[0..buflen)), 0 at the end, -1 with *why (an unclosed
 * quote, a target longer than buflen - 1, ":include:" or a file without an
 * absolute path).
 */
int	alias_target_next(const char **cursor, struct alias_target *t,
	    char *buf, size_t buflen, const char **why);

#endif
