#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Offline heal time (issue 5): a service killed --kills times, healed by medic-agent's
fallback healing (no coordinator reachable, 1 s sampling) and, in the same run on its own copy
of the service, by monit (1 s cycle). Time from the kill to the service running again (a new
process of its executable exists), p50 and p99 for each.

  /usr/bin/python3 tests/bench/heal_bench.py --build build/release [--kills 50]

Each service is a copy of /bin/sleep under its own name, started detached (setsid -f) by the
healer's start command, as a real service manager would. Between kills the bench waits until
the service has been up for --settle seconds, so medic's budget sees it healthy (heal.healthy_for)
and monit's cycle is not in the way; medic's flap detection is turned off (a service killed
every few seconds flaps, and medic would stop after 5 cycles and call a person). Standard library only; everything runs in a temp dir and is
stopped at the end (also on failure). Markdown to stdout, progress to stderr.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def pids_of(exe):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/exe" % name) == exe:
                pids.append(int(name))
        except OSError:
            pass
    return pids


def kill_all(exe):
    for pid in pids_of(exe):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_running(exe, timeout, old=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in pids_of(exe) if p not in old]
        if pids:
            return pids
        time.sleep(0.01)
    return []


def start_detached(exe):
    subprocess.run(["/usr/bin/setsid", "-f", exe, "3600"], check=True)


def agent_config(tmp, exe, agent_key, coordinator_pub):
    name = os.path.basename(exe)
    return f"""agent: {{id: heal-bench}}
coordinator:
  endpoint: tcp://127.0.0.1:9
  public_key: {coordinator_pub}
  heartbeat_interval: 1s
  dead_after: 3s
security: {{key_file: {agent_key}}}
spool: {{path: {tmp}/spool.db}}
sample:
  interval: 1s
  process_discovery_ms: 1000
processes:
  - {{name: svc, process_name: {name}}}
heal:
  fallback_after: 1s
  backoff_base: 1s
  healthy_for: 2s
  # A service killed every few seconds IS flapping, and medic would stop and call a person
  # after 5 cycles (heal.flap_cycles); the bench measures heal latency, so flapping is off.
  flap_cycles: 100
  flap_window: 1s
heal_rules:
  - {{id: restart-svc, on_rule: process-down, match: {{process: svc}}, action: start-svc}}
actions:
  - name: start-svc
    kind: exec
    risk: low
    timeout: 10s
    cooldown: 0s
    argv: [/usr/bin/setsid, -f, {exe}, '3600']
"""


def monit_config(tmp, exe):
    return f"""set daemon 1
set pidfile {tmp}/monit.pid
set idfile {tmp}/monit.id
set statefile {tmp}/monit.state
set logfile {tmp}/monit.log
check process svc matching "{exe}"
  start program = "/usr/bin/setsid -f {exe} 3600"
"""


def kill_cycle(exe, kills, settle, times, label):
    for n in range(kills):
        pids = wait_running(exe, 30)
        if not pids:
            print(f"{label}: service not running before kill {n}", file=sys.stderr)
            return
        time.sleep(settle)
        pids = pids_of(exe)
        killed = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        new = wait_running(exe, 30, old=pids)
        if not new:
            print(f"{label}: not healed within 30 s after kill {n}", file=sys.stderr)
            return
        times.append(time.monotonic() - killed)
        print(f"{label}: kill {n + 1}: {times[-1] * 1000:.0f} ms", file=sys.stderr)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    agent_bin = os.path.abspath(os.path.join(args.build, "agent", "medic-agent"))
    tmp = tempfile.mkdtemp(prefix="medic-heal-bench-")
    medic_svc = os.path.join(tmp, "medic-svc-bench")
    monit_svc = os.path.join(tmp, "monit-svc-bench")
    shutil.copy("/bin/sleep", medic_svc)
    shutil.copy("/bin/sleep", monit_svc)
    procs = []
    try:
        # A key pair for the (unreachable) coordinator, so the agent's config is complete.
        fake = os.path.join(tmp, "fake.yaml")
        with open(fake, "w") as f:
            f.write(f"security: {{key_file: {tmp}/coordinator.key}}\nspool: {{path: {tmp}/x.db}}\n")
        pub = subprocess.run([agent_bin, "--config", fake, "--print-public-key"], check=True,
                             capture_output=True, text=True).stdout.strip()
        with open(os.path.join(tmp, "coordinator.key.pub"), "w") as f:
            f.write(pub + "\n")
        config = os.path.join(tmp, "agent.yaml")
        with open(config, "w") as f:
            f.write(agent_config(tmp, medic_svc, os.path.join(tmp, "agent.key"),
                                 os.path.join(tmp, "coordinator.key.pub")))
        monitrc = os.path.join(tmp, "monitrc")
        with open(monitrc, "w") as f:
            f.write(monit_config(tmp, monit_svc))
        os.chmod(monitrc, 0o600)
        start_detached(medic_svc)
        start_detached(monit_svc)
        log = open(os.path.join(tmp, "agent.log"), "w")
        procs.append(subprocess.Popen([agent_bin, "--config", config], stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        procs.append(subprocess.Popen(["/usr/bin/monit", "-I", "-c", monitrc],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        time.sleep(5)  # the agent's fallback_after and first discovery; monit's first cycle
        results = {"medic-agent": [], "monit": []}
        threads = [threading.Thread(target=kill_cycle, args=(medic_svc, args.kills, args.settle,
                                                             results["medic-agent"], "medic")),
                   threading.Thread(target=kill_cycle, args=(monit_svc, args.kills, args.settle,
                                                             results["monit"], "monit"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"Offline heal time, kill to running again, {args.kills} kills each, same run:\n")
        print("| healer | healed | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|")
        for name, times in results.items():
            if not times:
                print(f"| {name} | 0 | - | - | - |")
                continue
            print(f"| {name} | {len(times)} | {percentile(times, 50) * 1000:.0f} | "
                  f"{percentile(times, 99) * 1000:.0f} | {max(times) * 1000:.0f} |")
        medic, monit = results["medic-agent"], results["monit"]
        if medic and monit:
            print(f"\nmedic p50 / monit p50 = {statistics.median(medic) / statistics.median(monit):.2f}, "
                  f"p99 ratio = {percentile(medic, 99) / percentile(monit, 99):.2f}")
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        kill_all(medic_svc)
        kill_all(monit_svc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
