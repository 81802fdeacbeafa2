#!/bin/sh
# instance.sh - a self-contained tern instance in one directory, as used by
# "make run" (./run on 127.0.0.1:2525) and by the integration tests.
#
#   instance.sh start DIR LISTEN BUILD   write DIR/etc if missing, start master
#   instance.sh stop DIR                 stop it (SIGTERM, bounded wait)
#
# DIR/etc/tern.conf and DIR/etc/master.conf are written once and then left
# alone, so an administrator may edit them.  TERN_CONF_EXTRA (env), if set,
# is appended to a newly written tern.conf.  The master runs in the
# foreground (-f) in its own session, logging to DIR/log/tern.log.
set -eu

die() { echo "instance: $*" >&2; exit 1; }

# A process that exited but was not reaped yet (a zombie: its parent here is
# init, which may reap late) is not running, although kill -0 succeeds.  Any
# other state counts, lower-case ones too: "t" (tracing stop) is, for one,
# a sanitizer build checking for leaks on its way out.
alive() {
	state=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

pid_of() {
	f="$1/queue/pid/master.pid"
	[ -f "$f" ] || return 1
	p=$(cat "$f" 2>/dev/null) || return 1
	[ -n "$p" ] && alive "$p" && echo "$p"
}

ensure_user() {
	id -u tern >/dev/null 2>&1 && return 0
	groupadd --system tern 2>/dev/null || true
	useradd --system --gid tern --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin tern || die "cannot create user tern"
}

# The instance's own sendmail and the set-gid ternpostdrop beside it
# (sendmail runs the one in its own directory), so that any local user can
# submit into this instance: DIR/bin/sendmail -C DIR/etc/tern.conf.
install_submit() {
	dir=$1 build=$2
	mkdir -p "$dir/bin"
	[ -x "$build/bin/sendmail" ] || return 0
	install -m 755 "$build/bin/sendmail" "$dir/bin/sendmail"
	if [ "$(id -u)" -eq 0 ]; then
		getent group terndrop >/dev/null 2>&1 || groupadd --system terndrop ||
		    die "cannot create group terndrop"
		install -o root -g terndrop -m 2755 "$build/bin/ternpostdrop" \
		    "$dir/bin/ternpostdrop"
	else
		install -m 755 "$build/bin/ternpostdrop" "$dir/bin/ternpostdrop"
	fi
}

write_config() {
	dir=$1 listen=$2 build=$3 owner=$4
	mkdir -p "$dir/etc" "$dir/queue" "$dir/log"
	if [ ! -f "$dir/etc/tern.conf" ]; then
		cat > "$dir/etc/tern.conf" <<CONF
# tern.conf of the self-contained instance in $dir (see tern.conf(5)).
queue_directory = $dir/queue
daemon_directory = $build/bin
mail_owner = $owner
mydestination = localhost, \$myhostname
alias_maps = hash:$dir/etc/aliases
alias_database = hash:$dir/etc/aliases
CONF
		[ -f "$dir/etc/aliases" ] || printf '# aliases(5) of this instance; run newaliases after a change.\npostmaster: root\n' > "$dir/etc/aliases"
		[ -n "${TERN_CONF_EXTRA:-}" ] && printf '%s\n' "$TERN_CONF_EXTRA" >> "$dir/etc/tern.conf"
	fi
	# deliver defers every local recipient while alias_maps cannot be
	# read, as Postfix does: build the instance's table (newaliases).
	[ -f "$dir/etc/aliases.db" ] || "$build/bin/ternmap" -a -c "$dir/etc/tern.conf" >/dev/null 2>&1 || true
	if [ ! -f "$dir/etc/master.conf" ]; then
		# Only root can chroot (smtpd) or deliver as each user.
		deliver_user=root smtpd_chroot=y
		[ "$(id -u)" -eq 0 ] || { deliver_user=-; smtpd_chroot=n; }
		cat > "$dir/etc/master.conf" <<CONF
# service   type   address              user   chroot  limit  program
smtpd       inet   $listen       -      $smtpd_chroot       2      smtpd
qmgr        unix   private/qmgr         -      n       1      qmgr
deliver     unix   private/deliver      $deliver_user   n       4      deliver
resolver    unix   private/resolver     -      n       1      resolver
anvil       unix   private/anvil        -      n       1      anvil
smtp        unix   private/smtp         -      n       2      smtp
lmtp        unix   private/lmtp         -      n       2      smtp
pickup      unix   private/pickup       -      n       1      pickup
showq       unix   public/showq         -      n       1      showq
bounce      unix   private/bounce       -      n       1      bounce
lookup      unix   private/lookup       -      n       4      lookup
CONF
	fi
}

start() {
	[ $# -eq 3 ] || die "usage: instance.sh start DIR LISTEN BUILD"
	dir=$1 listen=$2 build=$3
	[ -x "$build/bin/master" ] || die "$build/bin/master not built (run make)"
	if p=$(pid_of "$dir"); then
		echo "tern is already running in $dir (master pid $p)"; return 0
	fi
	owner=$(id -un)
	if [ "$(id -u)" -eq 0 ]; then ensure_user; owner=tern; fi
	write_config "$dir" "$listen" "$build" "$owner"
	install_submit "$dir" "$build"
	# A master running as root refuses a queue directory, or a parent of
	# it, that anyone but root may write (master(8)); mkdir -p under a
	# loose umask would make one.
	if [ "$(id -u)" -eq 0 ]; then chmod go-w "$dir" "$dir/queue"; fi
	setsid "$build/bin/master" -c "$dir/etc/tern.conf" -f \
	    >> "$dir/log/tern.log" 2>&1 < /dev/null &
	# dash has no /dev/tcp: probe the port with bash, bounded to 10 s.
	if ! TERN_LISTEN="$listen" bash -c '
		host=${TERN_LISTEN%:*}; port=${TERN_LISTEN##*:}; host=${host#[}; host=${host%]}
		[ "$host" = "*" ] && host=127.0.0.1
		for i in $(seq 1 100); do
			(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && exit 0
			sleep 0.1
		done; exit 1'; then
		tail -n 20 "$dir/log/tern.log" >&2
		die "tern did not start listening on $listen within 10 s"
	fi
	cat <<MSG
tern is running: SMTP on $listen, delivering to local users' Maildirs.
  configuration  $dir/etc/tern.conf, $dir/etc/master.conf
  queue          $dir/queue
  log            $dir/log/tern.log
Try:   swaks --server $listen --to $(id -un)@localhost
Stop:  make stop
MSG
}

stop() {
	[ $# -eq 1 ] || die "usage: instance.sh stop DIR"
	dir=$1
	if ! p=$(pid_of "$dir"); then echo "tern is not running in $dir"; return 0; fi
	kill -TERM "$p"
	i=0
	while alive "$p"; do
		i=$((i + 1))
		[ $i -gt 150 ] && die "master (pid $p) did not stop within 15 s"
		sleep 0.1
	done
	echo "tern stopped"
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case "$cmd" in
start) start "$@" ;;
stop) stop "$@" ;;
*) die "usage: instance.sh start DIR LISTEN BUILD | stop DIR" ;;
esac
