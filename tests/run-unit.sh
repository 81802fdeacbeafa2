#!/bin/sh
# Runs every cmocka unit-test binary given as an argument; fails if any fails.
# Prints one closing "unit: N passed, N failed" line.
pass=0 fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
