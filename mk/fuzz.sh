#!/bin/sh
# fuzz.sh - the script behind make fuzz and the corpus replay in make check.
#
#   fuzz.sh replay BUILDDIR NAME...
#	runs BUILDDIR/fuzz/replay_NAME over fuzz/corpus/NAME/ for each NAME;
#	quiet unless one fails (then its output is shown).
#   fuzz.sh run BUILDDIR SECONDS NAME...
#	runs the libFuzzer binary BUILDDIR/fuzz/fuzz_NAME for SECONDS on its
#	corpus.  New inputs, crashes and the log go to BUILDDIR/fuzz-out/NAME/,
#	never into the repository.  Prints executions and coverage per target.
set -u
mode=$1 build=$2
shift 2

replay() {
	pass=0 fail=0
	for n in "$@"; do
		log=$build/fuzz/replay_$n.log
		if "$build/fuzz/replay_$n" "fuzz/corpus/$n" >"$log" 2>&1; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "FAILED: corpus replay of $n ($build/fuzz/replay_$n fuzz/corpus/$n):"
			tail -n 20 "$log"
		fi
	done
	echo "fuzz corpora: $pass replayed, $fail failed"
	[ "$fail" -eq 0 ]
}

run() {
	seconds=$1
	shift
	fail=0
	for n in "$@"; do
		out=$build/fuzz-out/$n
		mkdir -p "$out/new" "$out/crash"
		"$build/fuzz/fuzz_$n" -max_total_time="$seconds" -print_final_stats=1 \
		    -artifact_prefix="$out/crash/" "$out/new" "fuzz/corpus/$n" \
		    >"$out/log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
		cov=$(grep -o 'cov: [0-9]*' "$out/log" | tail -n 1 | cut -d' ' -f2)
		ft=$(grep -o 'ft: [0-9]*' "$out/log" | tail -n 1 | cut -d' ' -f2)
		if [ "$rc" -eq 0 ]; then
			echo "fuzz $n: ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, ${seconds}s"
		else
			fail=$((fail + 1))
			echo "FAILED: fuzz $n (exit $rc); input in $out/crash/, log $out/log:"
			grep -E 'invariant broken|ERROR:|runtime error' "$out/log" | head -n 5
		fi
	done
	[ "$fail" -eq 0 ]
}

case $mode in
replay)	replay "$@" ;;
run)	run "$@" ;;
*)	echo "usage: fuzz.sh replay|run ..." >&2; exit 2 ;;
esac
