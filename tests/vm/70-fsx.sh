#!/usr/bin/env bash
# fsx with every operation enabled (tests/vm/data/fsx.toml), on fuse-wb in
# write-through and write-back mode, over libfuse's passthrough_ll and the
# project's reference server, for several seeds; then, on the reference
# server in both modes, with hard links of the file under test and sibling
# directories made, renamed and removed around it while fsx runs.
#
#   FSX_OPS=N     operations per run (default 1000; 0 = unbounded)
#   FSX_SEEDS="a b"  seeds (default: 1 2; more for a longer run)
#   FSX_SERVERS, FSX_MODES  subsets (default: "passthrough_ll refserver", "wt wb")
. "$(dirname "$0")/lib.sh"
OPS=${FSX_OPS:-1000}
SEEDS=${FSX_SEEDS:-1 2}
CONF=$ROOT/tests/vm/data/fsx.toml
# libfuse's passthrough_ll answers EOPNOTSUPP to every fallocate mode but 0
# (on mainline too): no hole punching over it.
CONF_LL=$SCRATCH/fsx-passthrough_ll.toml
sed 's/^punch_hole = .*/punch_hole = 0/' "$CONF" > "$CONF_LL"
command -v fsx >/dev/null || fail "fsx is not installed (scripts/setup installs it)"
nflag=(); [ "$OPS" != 0 ] && nflag=(-N "$OPS")

run_fsx() { # LABEL MNT CONF
  local label=$1 mnt=$2 conf=$3 seed out
  for seed in $SEEDS; do
    out=$SCRATCH/fsx-$label-$seed
    mkdir -p "$out"
    if ! fsx -q -f "$conf" "${nflag[@]}" -S "$seed" -P "$out" "$mnt/fsx-$seed" >"$out/log" 2>&1; then
      cp "$out/log" "$ROOT/tests/out/fsx-$label-$seed.log" 2>/dev/null
      grep -v '^\[ERROR fsx\] *[0-9]' "$out/log" | tail -30 >&2
      fail "fsx seed $seed failed on $label (log above)"
    fi
    note "$label: seed $seed, ${OPS/#0/unbounded} ops: ok"
  done
}

# fsx_on SERVER MODE: the seeds on a fresh mount of SERVER in MODE.
fsx_on() {
  local server=$1 mode=$2 B m opts sopts wbc conf
  B=$SCRATCH/fsx-backing-$server-$mode; rm -rf "$B"; mkdir -p "$B"
  m=$SCRATCH/fsx-$server-$mode
  opts=(); sopts=()
  if [ "$mode" = wb ]; then opts=(-o allow_wbcache); fi
  if [ "$server" = passthrough_ll ]; then
    [ "$mode" = wb ] && sopts=(-o writeback)
    mount_server fuse-wb "$m" "${opts[@]}" "$m" -- "$EXBIN/passthrough_ll" -f "${sopts[@]}" -o source="$B" %m
  else
    [ "$mode" = wb ] && sopts=(--writeback)
    mount_server fuse-wb "$m" "${opts[@]}" "$m" -- "$BIN/fusewb-refserver" --source "$B" "${sopts[@]}" %m
  fi
  wbc=$(awk '/^writeback_cache/{print $2}' "$(conn_dir "$m")/stats")
  [ "$wbc" = $([ $mode = wb ] && echo 1 || echo 0) ] || fail "$server $mode: writeback_cache is $wbc"
  conf=$CONF; [ "$server" = passthrough_ll ] && conf=$CONF_LL
  run_fsx "$server-$mode" "$m" "$conf"
  unmount "$m"
}

linker() { # FILE DIR STOPFILE
  local f=$1 d=$2 stop=$3 i=0
  mkdir -p "$d"
  while [ ! -e "$stop" ]; do
    if ln "$f" "$d/l$i" 2> /dev/null; then
      mv "$d/l$i" "$d/m$i" && rm -f "$d/m$i"
    fi
    mkdir "$d/x$i" && mv -T "$d/x$i" "$d/y$i" && rmdir "$d/y$i"
    i=$(((i + 1) % 4))
  done
}

# fsx_links MODE: the first seed on the reference server in MODE, with
# links and directories changing around the file under test.
fsx_links() {
  local mode=$1 B m opts sopts seed stop lpid
  B=$SCRATCH/fsx-backing-links-$mode; rm -rf "$B"; mkdir -p "$B"
  m=$SCRATCH/fsx-links-$mode
  opts=(); sopts=()
  [ "$mode" = wb ] && { opts=(-o allow_wbcache); sopts=(--writeback); }
  mount_server fuse-wb "$m" "${opts[@]}" "$m" -- "$BIN/fusewb-refserver" --source "$B" "${sopts[@]}" %m
  seed=${SEEDS%% *}
  stop=$SCRATCH/fsx-links-stop-$mode; rm -f "$stop"
  linker "$m/fsx-$seed" "$m/links" "$stop" &
  lpid=$!
  SEEDS=$seed run_fsx "refserver-$mode-links" "$m" "$CONF"
  touch "$stop"; wait $lpid
  unmount "$m"
}

# Every configuration on its own mount at once; each mount sees other
# mounts' traffic meanwhile.
jobs_=()
for server in ${FSX_SERVERS:-passthrough_ll refserver}; do
  for mode in ${FSX_MODES:-wt wb}; do
    jobs_+=("fsx_on $server $mode")
  done
done
for mode in ${FSX_MODES:-wt wb}; do
  jobs_+=("fsx_links $mode")
done
run_parallel "${jobs_[@]}"
