#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages end to end, on this machine (root only; it installs and purges them):
#
#   tests/package/package_test.sh --build-dir DIR   package DIR's binaries (scripts/package.sh)
#   tests/package/package_test.sh --debs DIR        test the two .debs already in DIR
#
# Checks their contents and metadata, runs lintian (errors fail) and systemd-analyze verify on
# the installed units, installs both with dpkg -i, checks the medic user, the key pairs'
# modes and owners and the conffiles, then runs the installed binaries with the installed
# configs as their units would (coordinator as user medic, agent as root; no systemd here),
# on a loopback port the coordinator picks and an admin socket in a temporary directory so that
# nothing clashes with other tests, enrols the agent with the installed medicctl, waits until its
# samples arrive, stops both, purges both and checks that nothing is left behind.
# Exit 77 (ctest's SKIP_RETURN_CODE) when not root, when medic packages are already installed or
# when another medic runs here.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"

build_dir=""
debs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --debs) debs="$2"; shift 2 ;;
    *) echo "package_test: unknown argument '$1' (--build-dir DIR | --debs DIR)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "package_test: SKIP: needs root (it installs and purges packages)"
  exit 77
fi
for package in medic-agent medic-coordinator; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "installed"; then
    echo "package_test: SKIP: $package is already installed here; purge it to run this test"
    exit 77
  fi
done

# Another medic on this machine (the quick-start, a manual run) uses /etc/medic and
# /var/lib/medic: never pull them from under it.
# (Process names are cut at 15 characters: medic-coordinat.)
if pgrep -x -r D,R,S,T medic-coordinat >/dev/null || pgrep -x -r D,R,S,T medic-agent >/dev/null; then
  echo "package_test: SKIP: a medic-coordinator or medic-agent is running here"
  exit 77
fi

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() { # check "what" command...
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

work_dir="$(mktemp -d /tmp/medic-package-test.XXXXXX)"
chmod 0755 "$work_dir"
coordinator_pid=""
agent_pid=""
backup=""
cleanup() {
  set +e
  for pid in $agent_pid $coordinator_pid; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in $agent_pid $coordinator_pid; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  if [ -n "$installed" ]; then
    dpkg --purge medic-agent medic-coordinator >/dev/null 2>&1
  fi
  # What another run (the quick-start) had in /etc/medic and /var/lib/medic comes back.
  if [ -n "$backup" ]; then
    for dir in etc-medic:/etc/medic var-lib-medic:/var/lib/medic; do
      if [ -d "$backup/${dir%%:*}" ]; then
        rm -rf "${dir#*:}"
        mv "$backup/${dir%%:*}" "${dir#*:}"
      fi
    done
  fi
  rm -rf "$work_dir"
}
installed=""
trap cleanup EXIT

# /etc/medic and /var/lib/medic may hold another tool's files (scripts/quickstart.sh): keep
# them aside so that the install starts clean and the purge check means something.
for dir in /etc/medic /var/lib/medic; do
  if [ -e "$dir" ]; then
    backup="$work_dir/backup"
    mkdir -p "$backup"
    mv "$dir" "$backup/$(echo "${dir#/}" | tr / -)"
    echo "moved $dir aside for the test (restored at the end)"
  fi
done

# --- build ---------------------------------------------------------------------------------
if [ -z "$debs" ]; then
  if [ -z "$build_dir" ]; then
    echo "package_test: give --build-dir DIR or --debs DIR" >&2
    exit 2
  fi
  debs="$work_dir/debs"
  "$repo/scripts/package.sh" --build-dir "$build_dir" --out "$debs"
fi
agent_deb="$(ls "$debs"/medic-agent_*.deb)"
coordinator_deb="$(ls "$debs"/medic-coordinator_*.deb)"

# --- contents and metadata -----------------------------------------------------------------
agent_files="$(dpkg-deb -c "$agent_deb")"
coordinator_files="$(dpkg-deb -c "$coordinator_deb")"
for path in ./usr/bin/medic-agent ./etc/medic/agent.yaml ./lib/systemd/system/medic-agent.service \
  ./usr/share/doc/medic-agent/copyright ./usr/share/doc/medic-agent/changelog.Debian.gz \
  ./usr/share/man/man8/medic-agent.8.gz; do
  check "medic-agent holds $path" grep -q " $path\$" <<<"$agent_files"
done
for path in ./usr/bin/medic-coordinator ./usr/bin/medicctl ./etc/medic/coordinator.yaml \
  ./etc/medic/diagnosis.yaml ./lib/systemd/system/medic-coordinator.service \
  ./usr/share/doc/medic-coordinator/copyright ./usr/share/man/man8/medicctl.8.gz; do
  check "medic-coordinator holds $path" grep -q " $path\$" <<<"$coordinator_files"
done
check "every file is root:root" bash -c '! grep -v " root/root " <<<"$1$2" | grep -q .' _ \
  "$agent_files" "$coordinator_files"
check "medic-agent has no medicctl" bash -c '! grep -q medicctl <<<"$1"' _ "$agent_files"
for deb in "$agent_deb" "$coordinator_deb"; do
  name="$(dpkg-deb -f "$deb" Package)"
  check "$name: Depends names libc6" bash -c 'dpkg-deb -f "$1" Depends | grep -q "libc6 (>="' _ "$deb"
  check "$name: Depends names libzmq5" bash -c 'dpkg-deb -f "$1" Depends | grep -q "libzmq5"' _ "$deb"
  check "$name: Depends names libsystemd0" bash -c 'dpkg-deb -f "$1" Depends | grep -q "libsystemd0"' _ "$deb"
  check "$name: conffiles list /etc/medic" bash -c 'dpkg-deb -I "$1" conffiles | grep -q "^/etc/medic/"' _ "$deb"
  check "$name: md5sums present" bash -c 'dpkg-deb -I "$1" md5sums | grep -q " usr/bin/"' _ "$deb"
  mkdir -p "$work_dir/x-$name" && dpkg-deb -x "$deb" "$work_dir/x-$name"
  for bin in $(dpkg-deb -c "$deb" | awk '$6 ~ /^\.\/usr\/bin\/./ {print $6}'); do
    check "$name: $bin is stripped" bash -c '! readelf -S "$1" | grep -q "\.symtab"' _ "$work_dir/x-$name/$bin"
  done
done
check "medic-coordinator depends on adduser" \
  bash -c 'dpkg-deb -f "$1" Depends | grep -q adduser' _ "$coordinator_deb"

# --- lintian -------------------------------------------------------------------------------
if lintian --fail-on error --tag-display-limit 0 "$agent_deb" "$coordinator_deb" >"$work_dir/lintian.txt" 2>&1; then
  echo "ok: lintian shows no errors ($(grep -c '^W: ' "$work_dir/lintian.txt" || true) warnings)"
else
  fail "lintian:"; cat "$work_dir/lintian.txt" >&2
fi
sed 's/^/  lintian: /' "$work_dir/lintian.txt"

# --- install -------------------------------------------------------------------------------
installed="yes"
check "dpkg -i both packages" dpkg -i "$coordinator_deb" "$agent_deb"
check "medic system user" bash -c 'uid=$(id -u medic) && [ "$uid" -lt 1000 ] && getent group medic >/dev/null'
check "medic has no login shell" bash -c 'getent passwd medic | grep -q ":/usr/sbin/nologin$"'
check "/var/lib/medic is medic:medic 0750" \
  bash -c '[ "$(stat -c %U:%G:%a /var/lib/medic)" = medic:medic:750 ]'
check "coordinator key is medic's, mode 0600" \
  bash -c '[ "$(stat -c %U:%a /var/lib/medic/coordinator.key)" = medic:600 ]'
check "agent key is root's, mode 0600" bash -c '[ "$(stat -c %U:%a /var/lib/medic/agent.key)" = root:600 ]'
check "public keys are readable (0644)" \
  bash -c '[ "$(stat -c %a /var/lib/medic/agent.key.pub /var/lib/medic/coordinator.key.pub | sort -u)" = 644 ]'
check "conffiles registered" \
  bash -c 'dpkg-query -W -f="\${Conffiles}\n" medic-agent medic-coordinator | grep -c "^ /etc/medic/" | grep -qx 3'
check "installed configs are valid" bash -c \
  '/usr/bin/medic-agent --check-config >/dev/null && /usr/bin/medic-coordinator --check-config >/dev/null'
# Documentation=man:... is checked too, unless this machine's dpkg excludes man pages.
man_check=yes
[ -f /usr/share/man/man8/medic-agent.8.gz ] || man_check=no
check "systemd-analyze verify accepts the units (man pages: $man_check)" \
  systemd-analyze verify --man="$man_check" /lib/systemd/system/medic-agent.service \
  /lib/systemd/system/medic-coordinator.service
check "the units are enabled (deb-systemd-helper)" \
  bash -c '[ -L /etc/systemd/system/multi-user.target.wants/medic-agent.service ] &&
           [ -L /etc/systemd/system/multi-user.target.wants/medic-coordinator.service ]'

# --- run the installed binaries with the installed configs ---------------------------------
# As the units would: the coordinator as medic, the agent as root. Only the endpoints move: a
# port the coordinator picks, an admin socket under $work_dir (the unit's /run/medic may be in use).
run_dir="$work_dir/run"
install -d -o medic -g medic -m 0750 "$run_dir"
socket="$run_dir/coordinator.sock"
MEDIC_COORDINATOR_AGENTS_LISTEN='tcp://127.0.0.1:*' MEDIC_COORDINATOR_ADMIN_SOCKET="$socket" \
  setpriv --reuid=medic --regid=medic --init-groups \
  /usr/bin/medic-coordinator --config /etc/medic/coordinator.yaml >"$work_dir/coordinator.log" 2>&1 &
coordinator_pid=$!
endpoint=""
for _ in $(seq 100); do
  if endpoint="$(/usr/bin/medicctl --socket "$socket" --json status 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])' 2>/dev/null)"; then
    break
  fi
  endpoint=""
  sleep 0.1
done
check "the coordinator answers on its admin socket as medic" [ -n "$endpoint" ]
check "the coordinator runs as medic" bash -c '[ "$(ps -o user= -p "$1")" = medic ]' _ "$coordinator_pid"

agent_key="$(/usr/bin/medic-agent --print-public-key)"
check "medicctl keys add enrols the agent" \
  /usr/bin/medicctl --socket "$socket" keys add package-test "$agent_key"
MEDIC_AGENT_AGENT_ID=package-test MEDIC_AGENT_COORDINATOR_ENDPOINT="$endpoint" \
  MEDIC_AGENT_BATCH_FLUSH_INTERVAL=500ms \
  /usr/bin/medic-agent --config /etc/medic/agent.yaml >"$work_dir/agent.log" 2>&1 &
agent_pid=$!
samples=0
for _ in $(seq 300); do
  samples="$(/usr/bin/medicctl --socket "$socket" --json agents 2>/dev/null | python3 -c '
import json, sys
for agent in json.load(sys.stdin).get("agents", []):
    if agent.get("id") == "package-test":
        print(agent.get("samples", 0)); break
else:
    print(0)' || echo 0)"
  [ "$samples" -gt 0 ] && break
  sleep 0.1
done
check "samples arrive from the enrolled agent ($samples)" [ "$samples" -gt 0 ]

for pid in $agent_pid $coordinator_pid; do
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  check "process $pid stops cleanly on SIGTERM" [ "$status" -eq 0 ]
done
agent_pid=""
coordinator_pid=""
if [ "$failures" -gt 0 ]; then
  echo "--- coordinator log"; tail -n 30 "$work_dir/coordinator.log"
  echo "--- agent log"; tail -n 30 "$work_dir/agent.log"
fi

# --- remove keeps state, purge removes everything ------------------------------------------
check "dpkg --remove both" dpkg --remove medic-agent medic-coordinator
check "remove keeps the state and the user" \
  bash -c '[ -f /var/lib/medic/medic.db ] && [ -f /var/lib/medic/agent.key ] && getent passwd medic >/dev/null'
check "remove keeps the conffiles" [ -f /etc/medic/agent.yaml ]
check "dpkg --purge both" dpkg --purge medic-agent medic-coordinator
installed=""
check "purge removes /etc/medic" [ ! -e /etc/medic ]
check "purge removes /var/lib/medic" [ ! -e /var/lib/medic ]
check "purge removes the medic user and group" \
  bash -c '! getent passwd medic >/dev/null && ! getent group medic >/dev/null'
check "purge removes the binaries and units" bash -c \
  '! ls /usr/bin/medic-agent /usr/bin/medic-coordinator /usr/bin/medicctl \
      /lib/systemd/system/medic-*.service 2>/dev/null | grep -q .'
check "purge removes the enablement links and state" bash -c \
  '! ls /etc/systemd/system/*/medic-*.service /var/lib/systemd/deb-systemd-helper-enabled/medic-* \
      /var/lib/systemd/deb-systemd-helper-enabled/*/medic-* 2>/dev/null | grep -q .'
check "dpkg knows neither package" bash -c \
  '! dpkg-query -W medic-agent medic-coordinator >/dev/null 2>&1'

echo "package sizes: $(du -k "$agent_deb" | cut -f1) KiB (agent), $(du -k "$coordinator_deb" | cut -f1) KiB (coordinator)"
if [ "$failures" -gt 0 ]; then
  echo "package_test: $failures checks failed" >&2
  exit 1
fi
echo "package_test: all checks passed"
