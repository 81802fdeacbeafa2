#!/bin/sh
# run.sh - entry point of "make bench": tern against Postfix on this machine.
#
#   sh bench/run.sh BUILD_DIR [bench.py options...]
#
# Prepares what the measurements need and hands over to the Python driver
# (bench/bench.py, with Debian's /usr/bin/python3 and its standard library
# only): Postfix's smtp-source and smtp-sink plus a Postfix to compare with,
# from Debian's postfix package unpacked under /var/tmp/tern-bench without
# installing it (bench/fetch-postfix.sh, cached), and strace for counting
# fsyncs.  Needs root.  Options and environment variables: bench/README.md,
# or "sh bench/run.sh BUILD_DIR --help"; the method: docs/PERFORMANCE.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: sh bench/run.sh BUILD_DIR [options]" >&2; exit 2; }
build=$1; shift
work=${BENCH_WORKDIR:-/var/tmp/tern-bench}

# --help needs neither root nor Postfix: every option, its variable, default.
for a in "$@"; do
	case "$a" in -h|--help)
		exec /usr/bin/python3 "$here/bench.py" --build "$build" --help ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (it creates system users, runs a private Postfix" >&2
	echo "bench: and puts each mail system into its own cgroup)" >&2
	exit 2
fi
[ -x /usr/bin/python3 ] || { echo "bench: /usr/bin/python3 is missing (apt-get install python3)" >&2; exit 2; }

# strace counts fsyncs; install it from Debian if missing (it is small).
if ! command -v strace >/dev/null 2>&1; then
	echo "bench: installing strace" >&2
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq strace >&2 ||
		echo "bench: could not install strace; the fsync count will fail" >&2
fi

root=$(sh "$here/fetch-postfix.sh" "$work") || {
	echo "bench: cannot prepare Postfix's tools (see above)" >&2; exit 2; }

exec /usr/bin/python3 "$here/bench.py" --build "$build" --postfix-root "$root" "$@"
