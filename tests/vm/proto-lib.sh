# Shared helpers of the protocol suites (60-protocol, 65-review), sourced
# after lib.sh: the fusewb-pio coprocess, checks, the script server's log,
# mounts, and `run`.
#   PROTO_KINDS="fuse-wb"   only the fuse-wb runs (default "fuse-wb mainline")
#   PROTO_TESTS='t0[1-4]'   only tests whose function name matches the regex
KINDS=${PROTO_KINDS:-fuse-wb mainline}
ONLY=${PROTO_TESTS:-}
SRV=$BIN/fusewb-scriptserver
CHECKS=0
PLOG=
PM=
KIB=1024
MIB=1048576

[ -x "$SRV" ] || fail "$SRV missing (cargo build --release)"
[ -x "$BIN/fusewb-pio" ] || fail "$BIN/fusewb-pio missing (cargo build --release)"

# --- The file-operation helper --------------------------------------------
# fusewb-pio (tools/fusewb-pio, whose documentation has the details) as a
# coprocess that keeps files open across shell steps. It reads one command
# per line and answers "ok [RESULT]", "err ENAME strerror" when a system
# call failed (ENAME: EIO, ENOTCONN, ...), or "err EXC TYPE: MESSAGE" for
# other failures (a check that finds other data, a bad argument):
#   open H PATH FLAGS        FLAGS: comma list of rdonly wronly rdwr creat excl
#                            trunc append direct sync (mode 0644)
#   close H | fsync H | fdatasync H | ftruncate H SIZE | fchmod H OCTAL
#   pwrite H OFF LEN [BASE]  LEN bytes, byte i = (BASE + i) % 251; BASE
#                            defaults to OFF, so the data equals what
#                            scriptserver --file creates
#   pwrites H OFF LEN COUNT  COUNT pwrites of LEN bytes from OFF on
#                            ("ok short W at OFF" at the first short one)
#   write H LEN [BASE]       at the file position (BASE defaults to 0)
#   dwrite H OFF LEN [BASE]  pwrite from a page-aligned buffer (O_DIRECT)
#   pread H OFF LEN          answers the byte count read
#   check H OFF LEN [BASE]   reads LEN bytes, compares with the pattern
#   zeros H OFF LEN          reads LEN bytes, all must be zero
#   fstat H                  answers "size=S mtime=SECONDS"
#   fstatx H                 answers "size=S mode=0OCT uid=U gid=G atime=S.NS
#                            mtime=S.NS ctime=S.NS" (NS: 9 digits)
#   lseek H OFF WHENCE       WHENCE: set cur end data hole; answers the offset
#   sync | syncfs H          answer the milliseconds the call took
#   fchown H UID GID         -1 leaves that id
#   futimens H ATIME MTIME   each: now, omit, SEC or SEC.FRACTION
#   mmap H OFF LEN shared|private [write [BASE]]
#                            maps, reads every page or writes the pattern
#                            (BASE defaults to OFF), munmaps
#   copy HIN OFFIN HOUT OFFOUT LEN
#                            copy_file_range until LEN bytes or 0; answers
#                            the bytes copied
#   quit
# Numbers are decimal without leading zeros, or 0x/0o/0b prefixed: fchmod's
# OCTAL is written 600 or 0o600, not 0600.
# pio_start [WRAPPER...]: starts it (under WRAPPER, e.g. setpriv ...).
pio_start() {
  coproc PIO { exec "$@" "$BIN/fusewb-pio"; }
  PIO_IN=${PIO[1]} PIO_OUT=${PIO[0]} PIO_CHILD=$PIO_PID
}
pio_send() { echo "$*" >&"$PIO_IN" || fail "pio: cannot send '$*'"; }
pio_recv() { # [TIMEOUT_S]: the answer goes to PIO_REPLY
  IFS= read -r -t "${1:-300}" PIO_REPLY <&"$PIO_OUT" && return 0
  blocked_dump
  fail "pio: no answer within ${1:-300}s"
}
# blocked_dump: the kernel stacks of the helper's threads and of every task
# in D state (also killable waits, which the hung-task report skips), to
# stderr and (sysrq w) the kernel log.
blocked_dump() {
  local t f
  for t in /proc/"$PIO_CHILD"/task/*; do
    echo "--- pio thread ${t##*/}: $(cat "$t/wchan" 2> /dev/null)" >&2
    cat "$t/stack" >&2 2> /dev/null
  done
  for f in /proc/[0-9]*/stat; do
    read -r t < "$f" 2> /dev/null || continue
    t=${t##*) }
    [ "${t%% *}" = D ] || continue
    f=${f%/stat}
    echo "--- D: ${f##*/} $(cat "$f/comm" 2> /dev/null)" >&2
    cat "$f/stack" >&2 2> /dev/null
  done
  echo w > /proc/sysrq-trigger 2> /dev/null
}
pio() { pio_send "$@"; pio_recv; [ "${PIO_REPLY%% *}" = ok ]; }
must() { pio "$@" || { dump_log; fail "'$*' failed: $PIO_REPLY"; }; }
# pio_err: ENAME of the last answer, "ok" if it succeeded.
pio_err() {
  case $PIO_REPLY in
    ok*) echo ok ;;
    *) set -- $PIO_REPLY; echo "$2" ;;
  esac
}
pio_stop() { pio_send quit; wait "$PIO_CHILD" 2> /dev/null; }

# --- Checks ------------------------------------------------------------------
dump_log() {
  [ -n "$PLOG" ] && [ -f "$PLOG" ] || return 0
  echo "--- last lines of $PLOG:" >&2
  tail -40 "$PLOG" >&2
}
# check DESC CMD...: CMD must succeed.
check() {
  local d=$1
  shift
  if "$@"; then
    CHECKS=$((CHECKS + 1))
  else
    [ "$1" = pio ] && d="$d: $PIO_REPLY"
    dump_log
    fail "$d"
  fi
}
# cond 'SHELL CONDITION': for conditions with && (evaluated in the caller's
# scope: bash locals are dynamically scoped).
cond() { eval "$1"; }
# soft KIND DESC CMD...: as check, but where mainline is known to differ
# (KIND mainline) a failure is only noted.
soft() {
  local kind=$1 d=$2
  shift 2
  if "$@"; then
    CHECKS=$((CHECKS + 1))
    return 0
  fi
  [ "$1" = pio ] && d="$d: $PIO_REPLY"
  if [ "$kind" = mainline ]; then
    note "mainline differs: $d"
  else
    dump_log
    fail "$d"
  fi
}
# wait_for CMD...: until CMD succeeds, at most 60 s.
wait_for() {
  local i
  for ((i = 0; i < 600; i++)); do
    "$@" && return 0
    nap 0.1
  done
  return 1
}
is_one_of() { # VALUE CHOICES...
  local v=$1 c
  shift
  for c in "$@"; do [ "$v" = "$c" ] && return 0; done
  return 1
}

# --- The server's log --------------------------------------------------------
# The log's request lines are "OP key=value ..." (single spaces); a
# request about file NAME carries the field file=NAME. These queries run in
# the shell itself: an awk would cost an exec (0.3 s under TCG) each, and
# wait_for polls them.
# _pscan NAME OP: PSCAN = the numbers of the lines of request OP about
# file NAME, in order; PSCAN_L = those lines.
_pscan() {
  local -a l
  local i
  PSCAN=() PSCAN_L=()
  [ -f "$PLOG" ] || return 0
  mapfile -t l < "$PLOG"
  for i in "${!l[@]}"; do
    if [[ ${l[i]} == "$2 "* && "${l[i]} " == *" file=$1 "* ]]; then
      PSCAN+=($((i + 1)))
      PSCAN_L+=("${l[i]}")
    fi
  done
}
# plines NAME OP: request lines of OP about file NAME, in order.
plines() {
  _pscan "$1" "$2"
  [ ${#PSCAN_L[@]} = 0 ] || printf '%s\n' "${PSCAN_L[@]}"
}
# plnums NAME OP: their line numbers in the log.
plnums() {
  _pscan "$1" "$2"
  [ ${#PSCAN[@]} = 0 ] || printf '%s\n' "${PSCAN[@]}"
}
# plinesn NAME OP: "LINENO LINE" for each.
plinesn() { since "$1" "$2" 0; }
pcount() {
  _pscan "$1" "$2"
  echo ${#PSCAN[@]}
}
has_line() {
  _pscan "$1" "$2"
  [ ${#PSCAN[@]} -gt 0 ]
}
# fields KEY: the value of KEY= on each input line (empty if absent), from
# its second word on.
fields() {
  local -a ws
  local i v
  while read -ra ws || [ ${#ws[@]} -gt 0 ]; do
    v=
    for ((i = 1; i < ${#ws[@]}; i++)); do
      if [[ ${ws[i]} == "$1="* ]]; then
        v=${ws[i]#"$1="}
        break
      fi
    done
    printf '%s\n' "$v"
    ws=()
  done
}
# writes NAME [FROM_LINE]: "LINENO OFFSET END CACHE" per WRITE of NAME
# (from log line FROM_LINE on).
writes() {
  awk -v f="file=$1" -v from="${2:-0}" '
    $1 == "WRITE" && NR >= from {
      hit = 0; o = e = c = ""
      for (i = 2; i <= NF; i++) {
        if ($i == f) hit = 1
        if (index($i, "offset=") == 1) o = substr($i, 8)
        if (index($i, "end=") == 1) e = substr($i, 5)
        if (index($i, "cache=") == 1) c = substr($i, 7)
      }
      if (hit) print NR, o, e, c
    }' "$PLOG"
}
# log_mark: LOGMARK = the number of lines in the log now (no subprocess).
log_mark() {
  local -a l
  mapfile -t l < "$PLOG"
  LOGMARK=${#l[@]}
}
# since NAME OP FROM: "LINENO LINE" for each OP line of NAME after line FROM.
since() {
  local i
  _pscan "$1" "$2"
  for i in "${!PSCAN[@]}"; do
    if [ "${PSCAN[i]}" -gt "$3" ]; then printf '%s %s\n' "${PSCAN[i]}" "${PSCAN_L[i]}"; fi
  done
}
# write_cover NAME: the byte ranges the server took by WRITEs of NAME
# (answered with error=0, by the size it answered), merged: "0-4096 8192-12288".
write_cover() {
  awk -v f="file=$1" '
    function val(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
    $1 == "WRITE" && index($0, " " f " ") { off[val("unique")] = val("offset") }
    $1 == "REPLY" && / op=WRITE / && val("error") == 0 { u = val("unique"); if (u in off) print off[u], off[u] + val("size") }
  ' "$PLOG" | sort -n | awk '
    NR == 1 { s = $1; e = $2; next }
    $1 <= e { if ($2 > e) e = $2; next }
    { printf "%s-%s ", s, e; s = $1; e = $2 }
    END { if (NR) printf "%s-%s", s, e }'
}
# running PID: the process exists and has not exited (a zombie has).
running() {
  local st
  { read -r st < "/proc/$1/stat"; } 2> /dev/null || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
# blocked PID: PID sleeps uninterruptibly (D, which a killable wait is too).
blocked() {
  local st
  { read -r st < "/proc/$1/stat"; } 2> /dev/null || return 1
  st=${st##*) }
  [ "${st%% *}" = D ]
}
# task_dump PID: where PID is in the kernel, to stderr (for a failure).
task_dump() {
  { echo "--- task $1: $(cut -d' ' -f3 "/proc/$1/stat" 2> /dev/null) $(cat "/proc/$1/wchan" 2> /dev/null)"
    cat "/proc/$1/stack" 2> /dev/null; } >&2
}
# ended PID SECS: PID stops running within SECS seconds.
ended() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    running "$1" || return 0
    nap 0.1
  done
  return 1
}

# init_caps request|reply: the caps= of the INIT request or of its reply.
init_caps() {
  if [ "$1" = request ]; then
    awk '$1 == "INIT"' "$PLOG" | fields caps | head -1
  else
    awk '$1 == "REPLY" && / op=INIT /' "$PLOG" | fields caps | head -1
  fi
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# --- Mounts ------------------------------------------------------------------
# proto_mount KIND MODE NAME [SERVER OPTIONS...]: mounts the script server on
# $SCRATCH/proto-NAME (PM) logging to $SCRATCH/proto-NAME.log (PLOG). KIND is
# fuse-wb or mainline. MODE: wb (write-back: -o allow_wbcache on fuse-wb and
# --writeback for the server), wt (neither), mnt-only (only allow_wbcache),
# srv-only (only --writeback). `-o OPTS` before the server's arguments adds
# mount options.
proto_mount() {
  local kind=$1 mode=$2 name=$3
  shift 3
  local mopts=() sopts=()
  case $mode in
    wb) sopts=(--writeback); [ "$kind" = fuse-wb ] && mopts=(-o allow_wbcache) ;;
    wt) ;;
    mnt-only) mopts=(-o allow_wbcache) ;;
    srv-only) sopts=(--writeback) ;;
    *) fail "proto_mount: unknown mode $mode" ;;
  esac
  if [ "${1-}" = -o ]; then
    mopts+=(-o "$2")
    shift 2
  fi
  PM=$SCRATCH/proto-$name
  PLOG=$SCRATCH/proto-$name.log
  rm -f "$PLOG"
  mount_server "$kind" "$PM" ${mopts[@]+"${mopts[@]}"} "$PM" -- "$SRV" \
    ${sopts[@]+"${sopts[@]}"} --log "$PLOG" "$@" %m
}
proto_umount() { unmount "$PM"; }

# hold_writeback KIND: the kernel's dirty throttling leaves the few dirty pages
# of the mount at $PM alone, for tests that assert what the filesystem
# itself writes before fsync, close or lseek. Both kernels set
# BDI_CAP_STRICTLIMIT, and a fresh mount's bdi has no share of the dirty
# limit yet: the first balance_dirty_pages() that a dirtied page reaches
# (whenever the per-CPU ratelimit counter, fed by any task on that CPU,
# runs over) then starts background writeback of the mount at once. With
# the strict limit off the global limits apply, far above a test's pages.
# The periodic background flush also starts writeback of a bdi that holds
# more dirty pages than its share of the background threshold, which is
# about nothing for a fresh bdi: a min_ratio of 1% gives it a share.
hold_writeback() {
  local bdi
  if [ "$1" = mainline ]; then
    bdi=$(mountpoint -d "$PM") # fuse's bdi is "MAJOR:MINOR" of the mount
  else
    # fuse-wb's bdi is "fuse-wb-SEQ" (super_setup_bdi): the newest one.
    bdi=$(find /sys/class/bdi/ -maxdepth 1 -name 'fuse-wb-*' -printf '%f\n' |
      sort -t- -k3 -n | tail -1)
  fi
  [ -w "/sys/class/bdi/$bdi/strict_limit" ] ||
    fail "hold_writeback: no bdi '$bdi' with a strict_limit for $PM"
  echo 0 > "/sys/class/bdi/$bdi/strict_limit"
  echo 1 > "/sys/class/bdi/$bdi/min_ratio"
}

# --- Run -----------------------------------------------------------------------
# run TEST KINDS...: TEST for each KIND in KINDS that PROTO_KINDS allows.
run() {
  local t=$1 k
  shift
  [ -n "$ONLY" ] && ! [[ $t =~ $ONLY ]] && return 0
  for k in "$@"; do
    [[ " $KINDS " == *" $k "* ]] || continue
    local t0=$SECONDS
    "$t" "$k"
    note "-- $t ($k): $((SECONDS - t0))s"
  done
}

# --- Fault injection -----------------------------------------------------------
# fault_setup: the kernel's fault injection (qemu/debug.config) fails only
# allocations made with fuse_wb's code on the stack (slab and page
# allocator, of any gfp), and only where a task armed it through
# /proc/<tid>/fail-nth (pio's `failnth N`): probability stays 0.
# fault_count: the failures injected so far (the kernel logs each, with
# its call trace: verbose 2).
FAULTS_D=/sys/kernel/debug
fault_setup() {
  local a start size
  [ -d $FAULTS_D/failslab ] || mount -t debugfs debugfs $FAULTS_D 2> /dev/null
  [ -d $FAULTS_D/failslab ] && [ -d $FAULTS_D/fail_page_alloc ] ||
    fail "no $FAULTS_D/failslab or fail_page_alloc: the test kernel lacks fault injection (qemu/debug.config)"
  # /proc/modules: NAME SIZE REFS DEPS STATE ADDRESS (the text's start;
  # SIZE covers all of the module's memory, so the range holds its text).
  read -r size start < <(awk '$1 == "fuse_wb" { print $2, $6 }' /proc/modules)
  [ -n "$start" ] && [ "$start" != 0x0000000000000000 ] || fail "fault_setup: no address of fuse_wb in /proc/modules"
  for a in failslab fail_page_alloc; do
    echo 0 > $FAULTS_D/$a/probability
    echo N > $FAULTS_D/$a/ignore-gfp-wait
    echo 2 > $FAULTS_D/$a/verbose
    echo 32 > $FAULTS_D/$a/stacktrace-depth
    echo "$start" > $FAULTS_D/$a/require-start
    printf '0x%x\n' $((start + size)) > $FAULTS_D/$a/require-end
  done
  echo N > $FAULTS_D/fail_page_alloc/ignore-gfp-highmem
  echo 0 > $FAULTS_D/fail_page_alloc/min-order
}
fault_count() { dmesg | grep -c 'FAULT_INJECTION: forcing a failure'; }
