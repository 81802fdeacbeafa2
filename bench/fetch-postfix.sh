#!/bin/sh
# fetch-postfix.sh - unpack Debian's postfix package for the benchmarks,
# without installing it.
#
#   fetch-postfix.sh [WORKDIR]      (default /var/tmp/tern-bench)
#
# The benchmark needs smtp-source and smtp-sink (Postfix's load generator and
# null server) and a Postfix to compare tern with.  Installing the postfix
# package would make Postfix the system's MTA (it starts on port 25 and owns
# /etc/postfix), so instead the .deb is fetched with "apt-get download" into
# WORKDIR/pkg and unpacked with "dpkg -x" into WORKDIR/postfix-root.  The
# programs there are run with LD_LIBRARY_PATH=WORKDIR/postfix-root/usr/lib/postfix
# (their RUNPATH points at /usr/lib/postfix, which does not exist here).
#
# Cached: a second run neither downloads nor unpacks again.  Prints the
# unpacked root on success; exits non-zero with a reason otherwise.
set -eu

work=${1:-/var/tmp/tern-bench}
pkg=$work/pkg
root=$work/postfix-root
lib=$root/usr/lib/postfix

die() { echo "fetch-postfix: $*" >&2; exit 1; }

mkdir -p "$pkg"
deb=$(ls "$pkg"/postfix_*.deb 2>/dev/null | tail -n 1 || true)
if [ -z "$deb" ]; then
	echo "fetch-postfix: downloading Debian's postfix package into $pkg" >&2
	# apt-get download writes into the current directory.  _apt cannot
	# write into a root-only directory, so apt warns and downloads as root;
	# that warning is harmless.  Bounded: the mirror is the only network.
	( cd "$pkg" && timeout 300 apt-get download -q postfix ) >&2 2>&1 || {
		echo "fetch-postfix: apt-get download failed; refreshing the package lists once" >&2
		timeout 300 apt-get update -qq >&2 || true
		( cd "$pkg" && timeout 300 apt-get download -q postfix ) >&2 2>&1 ||
			die "cannot download the postfix package (apt-get download postfix)"
	}
	deb=$(ls "$pkg"/postfix_*.deb 2>/dev/null | tail -n 1 || true)
	[ -n "$deb" ] || die "apt-get download left no postfix_*.deb in $pkg"
fi

stamp=$root/.unpacked-from
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(basename "$deb")" ]; then
	echo "fetch-postfix: unpacking $(basename "$deb") into $root" >&2
	rm -rf "$root"
	mkdir -p "$root"
	dpkg -x "$deb" "$root" || die "dpkg -x $deb failed"
	basename "$deb" > "$stamp"
fi

for prog in usr/sbin/smtp-source usr/sbin/smtp-sink usr/sbin/postfix \
    usr/sbin/postconf usr/lib/postfix/sbin/master; do
	[ -x "$root/$prog" ] || die "$root/$prog is missing from the package"
done
# Do the tools run?  Called without arguments they print their usage (and
# exit 1); a missing shared library would print "error while loading".
out=$(LD_LIBRARY_PATH=$lib "$root/usr/sbin/smtp-source" 2>&1 || true)
case "$out" in *usage*) ;; *) die "smtp-source does not run: $out" ;; esac
out=$(LD_LIBRARY_PATH=$lib "$root/usr/sbin/smtp-sink" 2>&1 || true)
case "$out" in *usage*) ;; *) die "smtp-sink does not run: $out" ;; esac
echo "$root"
