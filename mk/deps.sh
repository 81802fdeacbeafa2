#!/bin/sh
# deps.sh - make sure the Debian packages tern needs to build and test are
# installed.  As root, installs the missing ones with apt-get; otherwise
# prints the command to run and fails.  Quiet when nothing is missing.
# libclang-rt-14-dev is clang 14's sanitizer and libFuzzer runtime (make
# fuzz, make CC=clang SANITIZE=1); it follows Debian 12's clang.  libpq-dev
# is the pgsql: table type's client library; postgresql (a server the
# integration test starts as a private cluster) and db5.3-util (db5.3_dump,
# which reads back the .db files ternmap builds) are for the tests, and so
# is tzdata (a time zone the chrooted smtpd must have read before its chroot).
# dovecot-imapd and dovecot-lmtpd are the real mail store of the tests
# (tests/integration/dovecot.py starts a private one); the system's dovecot
# service is stopped and disabled after the install.  strace slows bounce's
# fsyncs in test_review_abounce.py (a slow disk).  iproute2's ss shows
# smtpd's socket memory to test_smtpd_tls.py (a send buffer filled to the
# byte).
set -u
PKGS="gcc make pkg-config clang libclang-rt-14-dev libc6-dev libssl-dev libdb5.3-dev libbsd-dev
libevent-dev libunbound-dev libcmocka-dev libpq-dev unbound swaks python3 python3-pytest
python3-dnspython python3-aiosmtpd db5.3-util postgresql openssl procps passwd s-nail pflogsumm
tzdata dovecot-imapd dovecot-lmtpd strace iproute2"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root:  apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A service some package starts by itself (unbound) must not be left running:
# tests start their own instances.  policy-rc.d stops invoke-rc.d from starting it.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
rc=0
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } || rc=$?
[ "$made_policy" -eq 1 ] && rm -f "$policy"
if [ "$rc" -ne 0 ]; then
	echo "deps: apt-get failed (exit $rc)" >&2
	exit 1
fi
# Tests start their own Dovecot on loopback ports: the system's must not
# run, now or after a reboot (policy-rc.d kept it from starting here, but
# not from being enabled).
case " $missing " in
*" dovecot-"*)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now dovecot >/dev/null 2>&1 || true
	else
		invoke-rc.d dovecot stop >/dev/null 2>&1 || true
		update-rc.d dovecot disable >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
