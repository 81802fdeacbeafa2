#!/bin/sh
# install.sh ACTION - "make install", "make uninstall", "make install-mta-links"
# and "make uninstall-mta-links".  The Makefile passes the layout in the
# environment: DESTDIR PREFIX SBINDIR LIBEXECDIR MANDIR SYSCONFDIR QUEUEDIR
# SYSTEMDDIR ALIASES BUILD, the program lists DAEMONS and TOOLS, and FORCE / PURGE.
#
# Where things go (one table, below: install_programs):
#   SBINDIR/tern-master            the master
#   SBINDIR/NAME                   every other tool in tools/ (an admin command)
#   LIBEXECDIR/NAME                every daemon; sendmail, and ternpostdrop
#                                  beside it (set-gid setgid_group), because
#                                  sendmail runs the ternpostdrop of its own
#                                  directory.  The Debian names (/usr/sbin/
#                                  sendmail, mailq, ...) are links made only by
#                                  install-mta-links, never by install.
#   MANDIR/manN/                   every page of man/, and mailq.1,
#                                  newaliases.1, tern-master.8 as .so pages
#   SYSCONFDIR/tern.conf, master.conf   only if missing (else FILE.dist)
#   SYSTEMDDIR/tern.service        the unit, with this layout's paths
#   QUEUEDIR                       the queue with its owners and modes
#   ALIASES, ALIASES.db            only without DESTDIR, as root: a missing
#                                  aliases file (/etc/aliases) gets Debian's
#                                  minimal one and a missing .db is built, so
#                                  local delivery does not defer on an
#                                  unreadable alias_maps until newaliases
# Without DESTDIR, as root, it also creates the system user and group of
# mail_owner (tern) and the group setgid_group (terndrop).  With DESTDIR it
# creates no user or group (a package does that when it is installed), and
# sets owners only where those already exist.  Every step is safe to repeat.
set -eu
umask 022

: "${DESTDIR:=}" "${PREFIX:=/usr/local}" "${FORCE:=0}" "${PURGE:=0}"
: "${SBINDIR:=$PREFIX/sbin}" "${LIBEXECDIR:=$PREFIX/lib/tern}"
: "${MANDIR:=$PREFIX/share/man}" "${SYSCONFDIR:=/etc/tern}"
: "${QUEUEDIR:=/var/spool/tern}" "${SYSTEMDDIR:=/lib/systemd/system}"
: "${BUILD:=build}" "${DAEMONS:=}" "${TOOLS:=}"
OWNER=tern DROPGROUP=terndrop
# The names other programs call an MTA by, for install-mta-links.
MTA_LINKS="/usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases"
BACKUP_SUFFIX=.tern-backup

say() { printf '%s\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 1; }
root() { [ "$(id -u)" -eq 0 ]; }
have_user() { id -u "$1" >/dev/null 2>&1; }
have_group() { getent group "$1" >/dev/null 2>&1; }

# The programs, one line each: "SOURCE DIRECTORY NAME MODE" (directory
# without DESTDIR).  A new daemon or tool needs no edit here.
install_programs() {
	echo "master $SBINDIR tern-master 0755"
	for d in $DAEMONS; do
		[ "$d" = master ] || echo "$d $LIBEXECDIR $d 0755"
	done
	for t in $TOOLS; do
		case "$t" in
		sendmail|ternpostdrop) echo "$t $LIBEXECDIR $t 0755" ;;
		*) echo "$t $SBINDIR $t 0755" ;;
		esac
	done
}

# Man pages: "SOURCE-or-.so-TARGET NAME SECTION".
install_manpages() {
	for m in man/*.[1-8]; do
		[ -f "$m" ] && echo "$m $(basename "$m") ${m##*.}"
	done
	echo ".so:man1/sendmail.1 mailq.1 1"
	echo ".so:man1/sendmail.1 newaliases.1 1"
	echo ".so:man8/master.8 tern-master.8 8"
}

# chown where the owner exists (under DESTDIR it may not yet).
owner_set() {	# owner group path
	root || return 0
	if have_user "$1" && have_group "$2"; then chown "$1:$2" "$3"
	else say "note: $3: owner $1:$2 left for the package's set-up (no such user/group here)"
	fi
}

users_create() {
	if [ -n "$DESTDIR" ] || ! root; then
		have_user "$OWNER" && have_group "$DROPGROUP" && return 0
		say "note: not creating the user $OWNER and the groups $OWNER, $DROPGROUP" \
		    "(DESTDIR set or not root): create them where tern is installed"
		return 0
	fi
	have_group "$OWNER" || groupadd --system "$OWNER"
	have_user "$OWNER" || useradd --system --gid "$OWNER" --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin "$OWNER"
	have_group "$DROPGROUP" || groupadd --system "$DROPGROUP"
}

# ternpostdrop: set-gid DROPGROUP, and only then (set-gid root would
# hand out root's group).
postdrop_setgid() {
	p="$DESTDIR$LIBEXECDIR/ternpostdrop"
	if root && have_group "$DROPGROUP"; then
		chown "root:$DROPGROUP" "$p"
		chmod 2755 "$p"
	else
		say "note: $p is not set-gid $DROPGROUP yet: only root and $OWNER can submit" \
		    "until it is (chown root:$DROPGROUP; chmod 2755)"
	fi
}

# The default configuration with this layout's paths.
conf_default() {	# file
	case "$1" in
	tern.conf)
		sed -e "s|^#queue_directory = .*|queue_directory = $QUEUEDIR|" \
		    -e "s|^#daemon_directory = .*|daemon_directory = $LIBEXECDIR|" etc/tern.conf ;;
	*) cat "etc/$1" ;;
	esac
}

# An administrator's file is never replaced: a newer default goes beside it.
conf_install() {
	d="$DESTDIR$SYSCONFDIR"
	install -d -m 0755 "$d"
	for f in tern.conf master.conf; do
		conf_default "$f" > "$d/.$f.new"
		chmod 0644 "$d/.$f.new"
		if [ ! -e "$d/$f" ]; then
			mv "$d/.$f.new" "$d/$f"
			say "installed $d/$f"
		elif cmp -s "$d/.$f.new" "$d/$f"; then
			rm -f "$d/.$f.new"
		else
			mv "$d/.$f.new" "$d/$f.dist"
			say "kept your $d/$f; the new default is $d/$f.dist"
		fi
	done
}

# The queue as the master makes it (master(8)); the master checks and
# repairs it at every start, this only makes it ready beforehand.
queue_install() {
	q="$DESTDIR$QUEUEDIR"
	install -d -m 0755 "$q"
	root && chown root:root "$q"
	for d in tmp incoming active deferred hold corrupt free private; do
		install -d -m 0700 "$q/$d"
		owner_set "$OWNER" "$OWNER" "$q/$d"
	done
	install -d -m 0700 "$q/pid"
	root && chown root:root "$q/pid"
	install -d "$q/maildrop"
	owner_set "$OWNER" "$DROPGROUP" "$q/maildrop"
	chmod 1770 "$q/maildrop"
	# showq's world-connectable socket (ternctl, mailq as any user).
	install -d -m 0711 "$q/public"
	owner_set "$OWNER" "$OWNER" "$q/public"
}

# Debian's MTA packages create /etc/aliases; local delivery defers while
# the default alias_maps (hash:/etc/aliases) cannot be read, so do the same.
# An existing file or .db is the administrator's and is left alone.
aliases_install() {
	[ -z "$DESTDIR" ] && root || return 0
	if [ ! -e "$ALIASES" ]; then
		printf '%s\n' "# See aliases(5); run newaliases after a change." \
		    "postmaster: root" > "$ALIASES.tern-new"
		chmod 0644 "$ALIASES.tern-new"
		mv "$ALIASES.tern-new" "$ALIASES"
		say "installed $ALIASES (postmaster: root)"
	fi
	[ -e "$ALIASES.db" ] && return 0
	if "$SBINDIR/ternmap" -a -c "$SYSCONFDIR/tern.conf" "hash:$ALIASES"; then
		say "built $ALIASES.db"
	else
		say "note: building $ALIASES.db failed; run newaliases once tern.conf is right"
	fi
}

unit_install() {
	install -d -m 0755 "$DESTDIR$SYSTEMDDIR"
	sed -e "s|/usr/local/sbin|$SBINDIR|g" -e "s|/etc/tern|$SYSCONFDIR|g" \
	    -e "s|/var/spool/tern|$QUEUEDIR|g" etc/tern.service \
	    > "$DESTDIR$SYSTEMDDIR/tern.service"
	chmod 0644 "$DESTDIR$SYSTEMDDIR/tern.service"
}

do_install() {
	install_programs | while read -r src dir name mode; do
		[ -f "$BUILD/bin/$src" ] || die "$BUILD/bin/$src is not built (run make)"
		install -D -m "$mode" "$BUILD/bin/$src" "$DESTDIR$dir/$name"
	done
	install_manpages | while read -r src name sec; do
		install -d -m 0755 "$DESTDIR$MANDIR/man$sec"
		case "$src" in
		.so:*) printf '.so %s\n' "${src#.so:}" > "$DESTDIR$MANDIR/man$sec/$name"
		       chmod 0644 "$DESTDIR$MANDIR/man$sec/$name" ;;
		*) install -m 0644 "$src" "$DESTDIR$MANDIR/man$sec/$name" ;;
		esac
	done
	users_create
	postdrop_setgid
	conf_install
	queue_install
	aliases_install
	unit_install
	say "installed tern into ${DESTDIR:-/} (programs in $SBINDIR, daemons in $LIBEXECDIR)"
	if [ -z "$DESTDIR" ]; then
		say "start it: systemctl daemon-reload && systemctl enable --now tern"
		say "      or: $SBINDIR/tern-master -c $SYSCONFDIR/tern.conf"
		say "make it the system's MTA: make install-mta-links (see INSTALL)"
	fi
}

do_uninstall() {
	install_programs | while read -r src dir name mode; do
		rm -f "$DESTDIR$dir/$name"
	done
	install_manpages | while read -r src name sec; do
		rm -f "$DESTDIR$MANDIR/man$sec/$name"
	done
	rm -f "$DESTDIR$SYSTEMDDIR/tern.service"
	rmdir "$DESTDIR$LIBEXECDIR" 2>/dev/null || true
	if [ "$PURGE" = 1 ]; then
		rm -rf "$DESTDIR$SYSCONFDIR" "$DESTDIR$QUEUEDIR"
		say "removed the configuration $DESTDIR$SYSCONFDIR and the queue $DESTDIR$QUEUEDIR (PURGE=1)"
	else
		say "kept the configuration $DESTDIR$SYSCONFDIR and the queue $DESTDIR$QUEUEDIR" \
		    "(mail may wait there); make uninstall PURGE=1 removes them too"
	fi
	say "kept the user $OWNER and the groups $OWNER, $DROPGROUP; any MTA links stay until" \
	    "make uninstall-mta-links"
}

# Is path a link to tern's sendmail?
ours() { [ -L "$1" ] && [ "$(readlink "$1")" = "$LIBEXECDIR/sendmail" ]; }

do_mta_links() {
	refused=""
	for l in $MTA_LINKS; do
		p="$DESTDIR$l"
		if [ -e "$p" ] || [ -L "$p" ]; then
			ours "$p" || refused="$refused $p"
		fi
	done
	if [ -n "$refused" ] && [ "$FORCE" != 1 ]; then
		die "another MTA's files are in the way:$refused
  stop and remove that MTA first (see INSTALL), or run make install-mta-links FORCE=1
  to move them aside (kept as NAME$BACKUP_SUFFIX, restored by make uninstall-mta-links)"
	fi
	for l in $MTA_LINKS; do
		p="$DESTDIR$l"
		ours "$p" && continue
		install -d -m 0755 "$(dirname "$p")"
		if [ -e "$p" ] || [ -L "$p" ]; then
			if [ -e "$p$BACKUP_SUFFIX" ] || [ -L "$p$BACKUP_SUFFIX" ]; then
				say "$p$BACKUP_SUFFIX exists already: keeping it, replacing $p"
				rm -f "$p"
			else
				mv "$p" "$p$BACKUP_SUFFIX"
				say "moved $p to $p$BACKUP_SUFFIX"
			fi
		fi
		ln -s "$LIBEXECDIR/sendmail" "$p"
		say "$p -> $LIBEXECDIR/sendmail"
	done
}

do_unmta_links() {
	for l in $MTA_LINKS; do
		p="$DESTDIR$l"
		if ours "$p"; then
			rm -f "$p"
			if [ -e "$p$BACKUP_SUFFIX" ] || [ -L "$p$BACKUP_SUFFIX" ]; then
				mv "$p$BACKUP_SUFFIX" "$p"
				say "restored $p"
			else
				say "removed $p"
			fi
		elif [ -e "$p" ] || [ -L "$p" ]; then
			say "left $p alone: not tern's"
		fi
	done
}

case "${1:-}" in
install) do_install ;;
uninstall) do_uninstall ;;
install-mta-links) do_mta_links ;;
uninstall-mta-links) do_unmta_links ;;
*) die "usage: install.sh install|uninstall|install-mta-links|uninstall-mta-links" ;;
esac
