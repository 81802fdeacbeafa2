#!/bin/sh
# maps.sh - lookups per second of each table type (ternmap -b), on its own,
# not part of make bench.  Run from the top of a built tree:
#
#	sh bench/maps.sh [BUILD_DIR] [ENTRIES] [LOOKUPS]	(build, 10000, 1000000)
#
# A table of ENTRIES "userN@example.org targetN" pairs is made as texthash:,
# hash:, btree: and pgsql: (a private PostgreSQL cluster on a loopback port,
# started here when run as root with the Debian postgresql package, and
# stopped again; the query by the table's primary key over TCP, one
# connection kept), and inline: with 500 entries (an inline: table lives in
# one configuration value).  Each is timed over LOOKUPS lookups (pgsql: a
# twentieth of them) cycling through every key plus as many absent ones, so
# half the lookups miss.  Everything lives in a temporary directory that is
# removed at the end.
set -eu
build=${1:-build}
entries=${2:-10000}
lookups=${3:-1000000}
ternmap=$build/bin/ternmap
[ -x "$ternmap" ] || { echo "maps.sh: no $ternmap (make first)" >&2; exit 1; }
dir=$(mktemp -d /var/tmp/tern-maps-bench.XXXXXX)
chmod 755 "$dir"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -n 1 || true)
pguser=terntest1
id "$pguser" >/dev/null 2>&1 || pguser=nobody
pgstarted=0
cleanup() {
	if [ "$pgstarted" -eq 1 ]; then
		runuser -u "$pguser" -- "$pgbin/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

awk -v n="$entries" 'BEGIN { for (i = 0; i < n; i++) printf "user%d@example.org target%d@example.net\n", i, i }' > "$dir/table"
awk -v n="$entries" 'BEGIN { for (i = 0; i < n; i++) printf "user%d@example.org\nabsent%d@example.org\n", i, i }' > "$dir/keys"
awk 'BEGIN { printf "{" } NR <= 500 { printf " %s = %s,", $1, $2 } END { printf " }" }' "$dir/table" > "$dir/inline"
awk 'NR <= 500 { print $1; print "absent" NR "@example.org" }' "$dir/table" > "$dir/inline-keys"

"$ternmap" "hash:$dir/table"
cp "$dir/table" "$dir/btable"
"$ternmap" "btree:$dir/btable"

echo "tern lookup tables: $entries entries, half the lookups absent keys"
"$ternmap" -b "$lookups" "texthash:$dir/table" < "$dir/keys"
"$ternmap" -b "$lookups" "hash:$dir/table" < "$dir/keys"
"$ternmap" -b "$lookups" "btree:$dir/btable" < "$dir/keys"
"$ternmap" -b "$lookups" "inline:$(cat "$dir/inline")" < "$dir/inline-keys" |
    sed 's/^inline:{[^}]*}/inline:{500 entries}/'

if [ "$(id -u)" -ne 0 ] || [ -z "$pgbin" ]; then
	echo "pgsql: skipped (needs root and the postgresql package)"
	exit 0
fi
mkdir "$dir/pg"
chown "$pguser" "$dir/pg"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runuser -u "$pguser" -- "$pgbin/initdb" -D "$dir/pg" -U tern --auth=trust -E UTF8 --no-sync >/dev/null
runuser -u "$pguser" -- "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg/log" -w \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
pgstarted=1
psql -q -h 127.0.0.1 -p "$port" -U tern -d postgres -c \
    "CREATE TABLE alias (address text PRIMARY KEY, goto text)" \
    -c "\\copy alias FROM '$dir/table' WITH (FORMAT text, DELIMITER ' ')" \
    -c "ANALYZE alias"
cat > "$dir/pgsql.cf" <<CF
hosts = 127.0.0.1:$port
user = tern
dbname = postgres
query = SELECT goto FROM alias WHERE address = '%s'
CF
"$ternmap" -b $((lookups / 20)) "pgsql:$dir/pgsql.cf" < "$dir/keys"
