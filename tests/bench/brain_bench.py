#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Crash-to-healthy through the coordinator (issue 6): a real medic-coordinator and a real
medic-agent connected to it over CURVE; a service (a copy of /bin/sleep under its own name)
killed --kills times; the agent's process-down signal goes to the coordinator, which opens (or
reopens) the incident, diagnoses it, sends start-svc as a COMMAND, and the agent runs it. Time
from the kill to the service running again (a new process of its executable exists), p50/p99.

  /usr/bin/python3 tests/bench/brain_bench.py --build build/h6 [--kills 30] [--settle 4]

The agent has no heal_rules, so only the coordinator can heal (its fallback would act only when
cut off anyway). Agent: sample.interval 1 s and process discovery 1 s (the defaults are 1 s and
at least 1 s); signals are sent as soon as they fire. Coordinator: the shipped defaults except
plan.cooldown 0s (the default 1 min, doubling per repeat, would hold back a service killed every
few seconds), plan.max_per_action_per_day 1000, correlation.quiet_period 1s and
correlation.flap_count 64 / flap_window 1s (a service killed every few seconds IS flapping, and
the coordinator would rightly stop and escalate). Between kills the bench waits until the
incident is resolved and then --settle seconds plus a random 0-1 s (so the kills do not lock to
the agent's 1 s sampling), so each kill reopens it. Standard library only;
everything runs in a temp dir and is stopped at the end. Markdown to stdout, progress to stderr.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RULES = """rules:
  - id: svc-crashed
    when: {rule: process-down}
    root_cause: crashed-service
    causes: [the service exited]
    confidence: 0.9
    automation: auto
    actions:
      - {action: start-svc, success_rate: 0.8}
"""


def pids_of(exe):
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % name) == exe:
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def wait_for(what, timeout, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(step)
    return None


class Medic:
    def __init__(self, build, tmp):
        self.coordinator = os.path.join(build, "coordinator", "medic-coordinator")
        self.ctl_bin = os.path.join(build, "coordinator", "medicctl")
        self.agent_bin = os.path.join(build, "agent", "medic-agent")
        self.tmp = tmp
        self.socket = os.path.join(tmp, "admin.sock")
        self.procs = []

    def ctl(self, *words):
        done = subprocess.run([self.ctl_bin, "--socket", self.socket, "--json", *words],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return None
        try:
            return json.loads(done.stdout)
        except ValueError:
            return None

    def spawn(self, argv, log):
        out = open(os.path.join(self.tmp, log), "w")
        self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def start_coordinator(self, rules):
        config = os.path.join(self.tmp, "coordinator.yaml")
        with open(config, "w") as f:
            f.write(f"""agents: {{listen: 'tcp://127.0.0.1:*'}}
storage: {{url: 'sqlite://{self.tmp}/medic.db'}}
admin: {{socket: {self.socket}}}
security: {{key_file: {self.tmp}/coordinator.key}}
diagnosis: {{rules_file: {rules}}}
correlation: {{quiet_period: 1s, flap_count: 64, flap_window: 1s}}
plan: {{cooldown: 0s, max_per_action_per_day: 1000}}
""")
        self.spawn([self.coordinator, "--config", config], "coordinator.log")
        status = wait_for(lambda: self.ctl("status"), 15, 0.1)
        if not status:
            raise RuntimeError("the coordinator did not answer within 15 s")
        return status["listen"]

    def start_agent(self, endpoint, exe):
        config = os.path.join(self.tmp, "agent.yaml")
        with open(config, "w") as f:
            f.write(f"""agent: {{id: brain-bench}}
coordinator:
  endpoint: {endpoint}
  public_key: {self.tmp}/coordinator.key.pub
security: {{key_file: {self.tmp}/agent.key}}
spool: {{path: {self.tmp}/spool.db}}
sample: {{interval: 1s, process_discovery_ms: 1000}}
processes:
  - {{name: svc, process_name: {os.path.basename(exe)}}}
actions:
  - name: start-svc
    kind: exec
    risk: low
    timeout: 10s
    cooldown: 0s
    argv: [/usr/bin/setsid, -f, {exe}, '3600']
    post_condition: {{kind: process, target: svc, within: 10s}}
""")
        key = subprocess.run([self.agent_bin, "--config", config, "--print-public-key"],
                             check=True, capture_output=True, text=True).stdout.split("\n")[0]
        subprocess.run([self.ctl_bin, "--socket", self.socket, "keys", "add", "brain-bench", key],
                       check=True, capture_output=True)
        self.spawn([self.agent_bin, "--config", config], "agent.log")
        agents = lambda: [a for a in (self.ctl("agents") or {}).get("agents", [])
                          if a.get("id") == "brain-bench"]
        if not wait_for(agents, 15, 0.1):
            raise RuntimeError("the agent did not connect within 15 s")

    def incident_state(self):
        for incident in (self.ctl("incidents") or {}).get("incidents", []):
            if incident.get("rule") == "process-down":
                return incident.get("state")
        return None

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def kill_cycle(medic, exe, kills, settle):
    times = []
    for n in range(kills):
        if not wait_for(lambda: pids_of(exe), 30):
            print(f"service not running before kill {n + 1}", file=sys.stderr)
            break
        if n > 0 and not wait_for(lambda: medic.incident_state() == "resolved", 30, 0.2):
            print(f"incident not resolved before kill {n + 1}", file=sys.stderr)
            break
        # Jittered, so kills do not lock to the agent's 1 s sampling or the coordinator's tick.
        time.sleep(settle + random.uniform(0, 1))
        pids = pids_of(exe)
        killed = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        if not wait_for(lambda: [p for p in pids_of(exe) if p not in pids], 60):
            print(f"not healed within 60 s after kill {n + 1}", file=sys.stderr)
            break
        times.append(time.monotonic() - killed)
        print(f"kill {n + 1}: {times[-1] * 1000:.0f} ms", file=sys.stderr)
    return times


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="medic-brain-bench-")
    exe = os.path.join(tmp, "brain-svc-bench")
    shutil.copy("/bin/sleep", exe)
    medic = Medic(os.path.abspath(args.build), tmp)
    try:
        rules = os.path.join(tmp, "diagnosis.yaml")
        with open(rules, "w") as f:
            f.write(RULES)
        endpoint = medic.start_coordinator(rules)
        subprocess.run(["/usr/bin/setsid", "-f", exe, "3600"], check=True)
        medic.start_agent(endpoint, exe)
        time.sleep(3)  # the agent's first process discovery has seen the service up
        times = kill_cycle(medic, exe, args.kills, args.settle)
        engine = (medic.ctl("stats") or {}).get("stats", {})
        print(f"Crash to running again through the coordinator, {len(times)} of {args.kills} "
              f"kills healed:\n")
        print("| healed | p50 ms | p99 ms | min ms | max ms |")
        print("|---:|---:|---:|---:|---:|")
        if times:
            print(f"| {len(times)} | {percentile(times, 50) * 1000:.0f} | "
                  f"{percentile(times, 99) * 1000:.0f} | {min(times) * 1000:.0f} | "
                  f"{max(times) * 1000:.0f} |")
        print("\ncoordinator stats: " + json.dumps(
            {k: engine.get(k) for k in ("commands_sent", "recoveries_succeeded",
                                        "recoveries_failed", "incidents_opened", "escalations")
             if k in engine}))
    finally:
        medic.stop()
        for pid in pids_of(exe):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if os.environ.get("MEDIC_BENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
