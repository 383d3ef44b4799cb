# Shared helpers of the VM test suite (sourced by tests/vm/*.sh).
# Runs inside the test VM as root; FUSEWB_ROOT is the repository.

ROOT=${FUSEWB_ROOT:?run through tests/vm/suite.sh}
BIN=$ROOT/target/release
EXBIN=$ROOT/tests/out/bin          # libfuse examples, built by tests/run-checks
SCRATCH=${FUSEWB_SCRATCH:-/tmp}
MOUNT_PIDS=()

# Debian's python3, not a wrapper found earlier in PATH: a pyenv shim starts
# several shell processes, 33 s a start under TCG instead of about 1.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
  mkdir -p "$SCRATCH/.bin" && ln -sf /usr/bin/python3 "$SCRATCH/.bin/python3"
  PATH=$SCRATCH/.bin:$PATH
fi

# Under TCG on the debug kernel every exec costs about 0.2 s, and a program
# that loads the C.UTF-8 locale (awk, cat, sort...) another 0.2 s of locale
# files read over 9p: the suites run in the C locale, with mawk for awk
# (a start: gawk 0.6 s in C.UTF-8, 0.4 s in C; mawk 0.3 s), and wait
# without sleep(1). mawk prints a number that is not a 32-bit integer
# with OFMT/CONVFMT (%.6g: 2.14748e+09); %.17g prints every integer a
# double holds exactly. (Its printf %d stops at 2^31-1: the suites' awk
# programs use %s.)
export LC_ALL=C
if [ -x /usr/bin/mawk ]; then
  awk() { /usr/bin/mawk -v OFMT=%.17g -v CONVFMT=%.17g "$@"; }
fi
# nap SECS: sleeps SECS (fractions allowed) without starting a process: a
# read with a timeout from a pipe that never gets data (this shell holds
# both of its ends).
exec {NAP_FD}<> <(:)
nap() { read -r -t "$1" -u "$NAP_FD" _ || :; }
# is_mounted DIR: DIR is a mountpoint in /proc/mounts (no process started).
is_mounted() {
  local l m
  mapfile -t m < /proc/mounts
  for l in "${m[@]}"; do [[ $l == *" $1 "* ]] && return 0; done
  return 1
}

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "  $*"; }

# wait_mounted DIR [TIMEOUT_S]: poll /proc/mounts (never a fixed sleep: TCG is slow).
wait_mounted() {
  local dir=$1 t=${2:-60} i
  for ((i = 0; i < t * 10; i++)); do
    is_mounted "$dir" && return 0
    nap 0.1
  done
  fail "$dir was not mounted within ${t}s"
}

# wait_unmounted DIR [TIMEOUT_S]
wait_unmounted() {
  local dir=$1 t=${2:-60} i
  for ((i = 0; i < t * 10; i++)); do
    is_mounted "$dir" || return 0
    nap 0.1
  done
  fail "$dir still mounted after ${t}s"
}

# mount_server KIND MNT [-o OPTS] -- SERVER ARGS...: KIND is fuse-wb or
# mainline. Starts fusewb-mount in the background and waits for the mount.
mount_server() {
  local kind=$1 mnt=$2
  shift 2
  local flag=()
  [ "$kind" = mainline ] && flag=(--mainline)
  mkdir -p "$mnt"
  "$BIN/fusewb-mount" "${flag[@]}" "$@" &
  MOUNT_PIDS+=($!)
  LAST_MOUNT_PID=$!
  # The mountpoint is the first non-option argument after the -o options.
  wait_mounted "$mnt"
}

# unmount MNT: unmount and wait for the mount helper to finish.
unmount() {
  local mnt=$1
  umount "$mnt" || fail "umount $mnt failed"
  wait_unmounted "$mnt"
  wait "$LAST_MOUNT_PID" 2>/dev/null || true
}

# errno_of CMD...: runs CMD and prints the strerror text it failed with
# ("ok" on success), from the last line of its stderr.
errno_of() {
  local err
  if err=$("$@" 2>&1 >/dev/null); then echo ok; return; fi
  case "$err" in
    *"No such file or directory"*) echo ENOENT ;;
    *"Input/output error"*) echo EIO ;;
    *"Transport endpoint is not connected"*) echo ENOTCONN ;;
    *"Permission denied"*) echo EACCES ;;
    *"Invalid argument"*) echo EINVAL ;;
    *"Interrupted system call"*) echo EINTR ;;
    *"No such device"*) echo ENODEV ;;
    *) echo "other: $err" ;;
  esac
}

# The connection directory of the most recent fuse-wb mount.
conn_dir() {
  local dev
  dev=$(stat -c '%d' "$1") || return 1
  echo "/sys/fs/fuse-wb/connections/$dev"
}

# run_parallel CMD...: starts every CMD (a command line, split at spaces)
# in the background at once, then waits for each and prints its output in
# order; fails naming the ones that failed. Each CMD keeps about one vCPU
# busy, so two at once take about half the time under TCG.
run_parallel() {
  local cmds=("$@") pids=() failed=() i
  for i in "${!cmds[@]}"; do
    ${cmds[i]} > "$SCRATCH/parallel-$i.out" 2>&1 &
    pids+=($!)
  done
  for i in "${!cmds[@]}"; do
    wait "${pids[i]}" || failed+=("${cmds[i]}")
    cat "$SCRATCH/parallel-$i.out"
  done
  [ ${#failed[@]} = 0 ] || fail "failed: ${failed[*]} (above)"
}
