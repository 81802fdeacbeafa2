#!/bin/sh
# install.sh DESTDIR PREFIX SYSCONFDIR QUEUEDIR BUILD - "make install".
#
# Installs the master in PREFIX/sbin, the daemons in PREFIX/lib/tern, man
# pages, and the default tern.conf/master.conf in SYSCONFDIR (never
# overwriting an administrator's files).  When DESTDIR is empty and we are
# root it also creates the tern user and group and the queue directory with
# its owners and modes.  Safe to run again.
set -eu
destdir=$1 prefix=$2 sysconfdir=$3 queuedir=$4 build=$5

inst() { install -D -m "$1" "$2" "$destdir$3"; }

inst 0755 "$build/bin/master" "$prefix/sbin/tern-master"
for d in smtpd qmgr deliver resolver anvil smtp pickup bounce; do
	inst 0755 "$build/bin/$d" "$prefix/lib/tern/$d"
done
for t in "$build"/bin/*; do
	n=$(basename "$t")
	case "$n" in master|smtpd|qmgr|deliver|resolver|anvil|smtp|pickup|bounce|ternpostdrop) continue ;; esac
	inst 0755 "$t" "$prefix/sbin/$n"
done
# sendmail runs the ternpostdrop in its own directory; set-gid terndrop
# (the group that may write maildrop/) when installing for real, below.
inst 0755 "$build/bin/ternpostdrop" "$prefix/sbin/ternpostdrop"
for m in man/*.[1-8]; do
	[ -f "$m" ] || continue
	sec=${m##*.}
	inst 0644 "$m" "$prefix/share/man/man$sec/$(basename "$m")"
done
for f in tern.conf master.conf; do
	if [ ! -f "$destdir$sysconfdir/$f" ]; then
		inst 0644 "etc/$f" "$sysconfdir/$f"
	fi
done
# Point the installed configuration at the installed layout, once.
conf="$destdir$sysconfdir/tern.conf"
if ! grep -q '^daemon_directory' "$conf"; then
	printf 'daemon_directory = %s\n' "$prefix/lib/tern" >> "$conf"
fi
if ! grep -q '^queue_directory' "$conf"; then
	printf 'queue_directory = %s\n' "$queuedir" >> "$conf"
fi

if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ]; then
	getent group tern >/dev/null || groupadd --system tern
	id -u tern >/dev/null 2>&1 || useradd --system --gid tern \
	    --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tern
	install -d -m 0755 -o root -g root "$queuedir"
	for d in tmp incoming active deferred hold corrupt free private; do
		install -d -m 0700 -o tern -g tern "$queuedir/$d"
	done
	# Only the master (root) writes its pid file.
	install -d -m 0700 -o root -g root "$queuedir/pid"
	# Local submission: maildrop/ writable by group terndrop, which only
	# the set-gid ternpostdrop runs with (docs/SECURITY.md).
	getent group terndrop >/dev/null || groupadd --system terndrop
	install -d -m 1770 -o tern -g terndrop "$queuedir/maildrop"
	chown root:terndrop "$prefix/sbin/ternpostdrop"
	chmod 2755 "$prefix/sbin/ternpostdrop"
	echo "installed; start with: $prefix/sbin/tern-master -c $sysconfdir/tern.conf"
else
	echo "installed into ${destdir:-/}; as root (without DESTDIR) make install also creates the tern user and $queuedir"
fi
