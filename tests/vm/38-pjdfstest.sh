#!/usr/bin/env bash
# pjdfstest (the POSIX file system test suite, crates.io) as root through
# libfuse's passthrough_ll over a tmpfs backing, mounted with
# default_permissions,allow_other, on mainline FUSE and on fuse-wb in both
# modes. fuse-wb must pass every test mainline passes; the tallies of all
# three are printed (tests both fail are listed in the log, not judged).
. "$(dirname "$0")/lib.sh"
PJD=${PJDFSTEST:-$(command -v pjdfstest || echo "$HOME/.cargo/bin/pjdfstest")}
PT=$EXBIN/passthrough_ll
[ -x "$PJD" ] || fail "pjdfstest missing: scripts/setup installs it (cargo install pjdfstest)"
[ -x "$PT" ] || fail "$PT missing (tests/run-checks builds it)"
conf=$SCRATCH/pjdfstest.toml
cat > "$conf" << 'EOF'
[features]
posix_fallocate = {}
[settings]
naptime = 0.01
[dummy_auth]
entries = [
  ["nobody", "nogroup"],
  ["daemon", "daemon"],
]
EOF

# results RUN: "NAME ok|FAILED|skipped" lines of the run's log, sorted.
results() {
  grep -E '^[a-z_0-9:]+ +(ok|FAILED|skipped)$' "$SCRATCH/pjd.$1.log" | awk '{print $1, $2}' | LC_ALL=C sort
}

# pjd RUN: mounts, runs pjdfstest and writes the sorted results of RUN
# (KIND:MODE) to pjd.RUN.res.
pjd() {
  local run=$1 kind=${1%:*} mode=${1#*:} m b st popts mopts
  m=$SCRATCH/pjd-$kind-$mode
  b=$SCRATCH/pjd-backing-$kind-$mode
  rm -rf "$b"
  mkdir -p "$b"
  chmod 0777 "$b"
  popts=() mopts=(-o default_permissions,allow_other)
  if [ $mode = wb ]; then
    popts=(-o writeback)
    mopts=(-o default_permissions,allow_other,allow_wbcache)
  fi
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$PT" -f "${popts[@]}" -o source="$b" %m
  # Exit status 1 means "some failed": judged below against mainline.
  (cd "$m" && timeout 1500 "$PJD" -c "$conf" -p "$m" > "$SCRATCH/pjd.$run.log" 2>&1)
  st=$?
  [ $st -le 1 ] || { tail -20 "$SCRATCH/pjd.$run.log"; fail "pjdfstest on $run ended with status $st"; }
  unmount "$m"
  results $run > "$SCRATCH/pjd.$run.res"
  [ -s "$SCRATCH/pjd.$run.res" ] || { tail -20 "$SCRATCH/pjd.$run.log"; fail "no results from pjdfstest on $run"; }
  note "$run: $(grep '^Summary' "$SCRATCH/pjd.$run.log")"
}

# The three runs go at once, each on its own mount and backing directory.
run_parallel "pjd mainline:wt" "pjd fuse-wb:wt" "pjd fuse-wb:wb"

for run in fuse-wb:wt fuse-wb:wb; do
  # Passed on mainline, not on fuse-wb.
  worse=$(LC_ALL=C join "$SCRATCH/pjd.mainline:wt.res" "$SCRATCH/pjd.$run.res" | awk '$2 == "ok" && $3 != "ok" {print $1}')
  if [ -n "$worse" ]; then
    for t in $worse; do
      echo "--- $t on $run:"
      grep -A3 "^$t " "$SCRATCH/pjd.$run.log" | head -4
    done
    fail "$run fails $(echo "$worse" | wc -l) test(s) mainline passes: $(echo $worse | head -c 400)"
  fi
  better=$(LC_ALL=C join "$SCRATCH/pjd.mainline:wt.res" "$SCRATCH/pjd.$run.res" | awk '$2 == "FAILED" && $3 == "ok" {print $1}')
  [ -z "$better" ] || note "$run passes where mainline fails: $(echo $better)"
done
both=$(LC_ALL=C join "$SCRATCH/pjd.mainline:wt.res" "$SCRATCH/pjd.fuse-wb:wt.res" | awk '$2 == "FAILED" && $3 == "FAILED" {print $1}')
[ -z "$both" ] || note "failed on mainline and fuse-wb alike: $(echo $both)"
