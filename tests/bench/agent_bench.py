#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""medic agent benchmarks (issue 4), side by side with Debian's own tools.

  footprint   medic-agent (1 s sampling, default rules, a watched process, an HTTP probe, 10
              tailed files) next to collectd, prometheus-node-exporter (scraped every 1 s) and
              monit, all at once, for --seconds after --warmup: VmRSS/VmHWM at the end, CPU
              (utime+stime, and the per-thread schedstat run time) per second. The agent's
              coordinator runs too; its cost is not counted.
  throughput  a file of --lines syslog-like lines appended as fast as possible (newline-aligned
              1 MiB writes, the writer on CPU 0) while one follower on CPU 1 matches 20 patterns:
              medic's LogPipeline (medic-log-pipeline-bench, mining off and on),
              `tail -F | grep -E -f` and collectd's tail plugin; also medic and grep on the file
              already written.
  latency     a real agent with defaults: an appended line matching a count-1 log rule, and the
              kill of a watched process (built-in rule process-down); time from the write / kill
              to the signal's arrival at the coordinator (received_ms) and to its creation in
              the agent (time_ms).
  threads     (--only threads) the agent alone in the footprint setup, CPU per thread from
              schedstat; with --against OTHER_BUILD, the two binaries run in alternation.
  ticks       (--only ticks) the agent alone in the footprint setup from its first batch on (no
              warm-up, so the window holds its release of start-up code at tick 30): every
              thread's schedstat and the page faults sampled every 20 ms, each burst of CPU as a
              row; printed are the bursts with page faults or over twice the loop's median.
  instructions (--only instructions) the agent alone in the footprint setup under valgrind's
              callgrind, instrumented from --warmup on for --seconds: instructions per second
              per thread (thread 1 is the loop), one run per build (--against as above). Exact
              counts, unlike CPU time on a shared machine; they do not see cache misses.

Every process is started in a temp dir, in its own session, and stopped (also on failure).
Prints Markdown to stdout, progress to stderr. Standard library only:
  /usr/bin/python3 tests/bench/agent_bench.py --build build/h5 [--only footprint] [--runs 3]
"""
import argparse
import http.server
import json
import os
import random
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CLK = os.sysconf("SC_CLK_TCK")
ERROR_REGEX = "ERROR|Connection refused|segfault at|Out of memory|No space left on device"


def log(*words):
    print(time.strftime("%H:%M:%S"), *words, file=sys.stderr, flush=True)


class Procs:
    """Every process the bench started; each in its own session, stopped by its own id."""

    def __init__(self):
        self.live = []

    def start(self, argv, out=None, cpu=None, **kw):
        sink = open(out, "ab") if out else subprocess.DEVNULL
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        kw.setdefault("stdout", sink)
        kw.setdefault("stderr", sink)
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen([str(a) for a in argv], start_new_session=True, preexec_fn=pin, **kw)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:  # not reaped, so the pid (and its group id) are still ours
            try:
                os.killpg(p.pid, sig)
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
            except ProcessLookupError:
                pass
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in reversed(list(self.live)):
            self.stop(p)


PROCS = Procs()
AGENT_WRAPPER = []  # argv put before the agent's (--only instructions: valgrind)


def wait_until(cond, timeout, step=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime+stime of every thread, dead ones included (clock ticks)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def sched(*pids):
    """(CPU run time, time spent waiting for a CPU, times put on a CPU) of the live threads, in
    s, s and a count (schedstat; the count is about the wake-ups of a mostly idle process)."""
    run = wait = slices = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                fields = (task / "schedstat").read_text().split()
                run, wait = run + int(fields[0]), wait + int(fields[1])
                slices += int(fields[2])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return run / 1e9, wait / 1e9, slices


def status_kib(pid, *keys):
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in keys:
            values[name] = int(rest.split()[0])
    return values


def rchar(pid):
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def has_open(pid, path):
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False


def machine_busy():
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def smaps_breakdown(pid, top=12):
    roll = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        roll[name] = int(rest.split()[0])
    maps, current = {}, None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            path = head[5] if len(head) > 5 else "[anon]"
            current = (os.path.basename(path), head[1])
        elif head[0] == "Rss:" and current:
            maps[current] = maps.get(current, 0) + int(head[1])
    ranked = sorted(maps.items(), key=lambda kv: -kv[1])[:top]
    return roll, [(f"{name} ({perms})", kib) for (name, perms), kib in ranked]


def admin(sock_path, request):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        s.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


class Medic:
    """A coordinator and one enrolled agent, as tests/support/fleet_fixture.cpp starts them."""

    def __init__(self, build, work):
        self.agent_bin = build / "agent/medic-agent"
        self.coord_bin = build / "coordinator/medic-coordinator"
        self.ctl_bin = build / "coordinator/medicctl"
        self.dir = work
        self.sock = work / "admin.sock"
        self.agent = None

    def start(self, agent_yaml):
        (self.dir / "coordinator.yaml").write_text(
            f"agents:\n  listen: tcp://127.0.0.1:*\nstorage:\n  url: sqlite://{self.dir}/medic.db\n"
            f"admin:\n  socket: {self.sock}\nsecurity:\n  key_file: {self.dir}/coordinator.key\n")
        PROCS.start([self.coord_bin, "--config", self.dir / "coordinator.yaml"],
                    self.dir / "coordinator.log")
        status = wait_until(lambda: self._try({"cmd": "status"}), 20, 0.1, "the coordinator")
        config = self.dir / "agent.yaml"
        config.write_text(
            f"agent:\n  id: bench\ncoordinator:\n  endpoint: {status['listen']}\n"
            f"  public_key: {self.dir}/coordinator.key.pub\nsecurity:\n  key_file: {self.dir}/agent.key\n"
            f"spool:\n  path: {self.dir}/agent-spool.db\n" + agent_yaml)
        key = subprocess.run([self.agent_bin, "--config", config, "--print-public-key"],
                             capture_output=True, text=True, timeout=30, check=True)
        subprocess.run([self.ctl_bin, "--socket", self.sock, "keys", "add", "bench",
                        key.stdout.split("\n")[0]], capture_output=True, timeout=30, check=True)
        self.agent = PROCS.start([*AGENT_WRAPPER, self.agent_bin, "--config", config],
                                 self.dir / "agent.log")
        wait_until(lambda: self.batches() > 0, 30, 0.2, "the agent's first batch")
        return self.agent

    def _try(self, request):
        try:
            answer = admin(self.sock, request)
            return answer if answer.get("ok") else None
        except (OSError, ValueError):
            return None

    def batches(self):
        answer = self._try({"cmd": "agents"}) or {}
        return sum(a.get("batches", 0) for a in answer.get("agents", []) if a.get("id") == "bench")

    def signals(self, since_ms, limit=200):
        return (self._try({"cmd": "signals", "since_ms": since_ms, "limit": limit}) or {}).get(
            "signals", [])


class Background(threading.Thread):
    """Runs fn(stop_event) in a daemon thread."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.halt = threading.Event()
        self.fn = fn
        self.start()

    def run(self):
        self.fn(self.halt)


def write_lines_steadily(files, per_second, halt, errors=True):
    """Appends a syslog-like line to each file per_second times a second; 1 in 20 is an error."""
    handles = [open(f, "a", buffering=1) for f in files]
    n, next_t = 0, time.monotonic()
    while not halt.is_set():
        n += 1
        stamp = time.strftime("%b %e %H:%M:%S")
        for i, h in enumerate(handles):
            if errors and (n + i) % 20 == 0:
                msg = f"app[{100 + i}]: ERROR connect to db-{n % 3}:5432: Connection refused"
            else:
                msg = f"app[{100 + i}]: INFO request id={n:08x} path=/orders/{n % 977} took {n % 90}ms"
            h.write(f"{stamp} bench {msg}\n")
        next_t += 1.0 / per_second
        halt.wait(max(0.0, next_t - time.monotonic()))
    for h in handles:
        h.close()


def peer_configs(work, files, udp_port, exporter_port):
    """collectd.conf, monitrc (0600) and the node exporter's argv."""
    tails = "".join(
        f'  <File "{f}">\n    Instance "log{i}"\n    <Match>\n      Regex "{ERROR_REGEX}"\n'
        f'      DSType "CounterInc"\n      Type "counter"\n      Instance "errors"\n    </Match>\n'
        f"  </File>\n" for i, f in enumerate(files))
    (work / "collectd.conf").write_text(
        f'Hostname "bench"\nFQDNLookup false\nBaseDir "{work}"\nPIDFile "{work}/collectd.pid"\n'
        f'TypesDB "/usr/share/collectd/types.db"\nInterval 1\nLoadPlugin logfile\n'
        f'<Plugin logfile>\n  LogLevel "info"\n  File "{work}/collectd.log"\n</Plugin>\n'
        "LoadPlugin cpu\nLoadPlugin memory\nLoadPlugin df\nLoadPlugin disk\nLoadPlugin interface\n"
        f'LoadPlugin network\n<Plugin network>\n  Server "127.0.0.1" "{udp_port}"\n</Plugin>\n'
        f"LoadPlugin tail\n<Plugin tail>\n{tails}</Plugin>\n")
    checks = "".join(f'check file log{i} with path {f}\n  if content = "{ERROR_REGEX}" then alert\n'
                     for i, f in enumerate(files))
    monitrc = work / "monitrc"
    monitrc.write_text(
        f"set daemon 1\nset logfile {work}/monit.log\nset idfile {work}/monit.id\n"
        f"set statefile {work}/monit.state\nset pidfile {work}/monit.pid\n"
        "check system bench\n  if loadavg (1min) > 100 then alert\n"
        "  if memory usage > 95% then alert\n  if cpu usage > 95% for 10 cycles then alert\n"
        "check filesystem rootfs with path /\n  if space usage > 95% then alert\n" + checks)
    monitrc.chmod(0o600)
    (work / "textfile").mkdir()
    return ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{exporter_port}",
            f"--collector.textfile.directory={work}/textfile"]


def threads_of(pid):
    """{tid: (name, CPU s, context switches)} of the live threads."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text().splitlines()
            switches = sum(int(l.split()[1]) for l in status if "ctxt_switches" in l)
            out[task.name] = ((task / "comm").read_text().strip(), cpu_seconds(f"{pid}/task/{task.name}"), switches)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def thread_run_times(pid):
    """{tid: (name, CPU run time in s)} of the live threads (schedstat)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[task.name] = ((task / "comm").read_text().strip(),
                              int((task / "schedstat").read_text().split()[0]) / 1e9)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def per_thread_window(pid, seconds):
    """CPU ms per second of each thread over the window: the main thread as "loop", the others
    by name (threads named alike, the libuv threadpool's, summed)."""
    t0, before = time.monotonic(), thread_run_times(pid)
    time.sleep(seconds)
    wall, after = time.monotonic() - t0, thread_run_times(pid)
    rows = {}
    for tid, (name, run) in after.items():
        if tid in before:
            name = "loop" if tid == str(pid) else name
            rows[name] = rows.get(name, 0.0) + 1000 * (run - before[tid][1]) / wall
    return rows


def tick_window(pid, seconds, step=0.02):
    """Every `step` s: each thread's schedstat run time (ns) and the process's minor and major
    faults, with the agent's age in s; the raw series for report_ticks."""
    tids = sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda t: int(t.name))
    names = ["loop" if t.name == str(pid) else (t / "comm").read_text().strip() for t in tids]
    started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]) / CLK
    rows, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        age = float(Path("/proc/uptime").read_text().split()[0]) - started
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        runs = []
        for t in tids:
            try:
                runs.append(int((t / "schedstat").read_text().split()[0]))
            except OSError:
                runs.append(0)
        rows.append([age, int(stat[7]), int(stat[9]), *runs])
        time.sleep(step)
    return {"names": names, "rows": rows}


def syscall_window(pid, work, seconds):
    """Per thread: CPU and wake-ups per second; then the syscalls of all threads (strace -c)."""
    t0, before = time.monotonic(), threads_of(pid)
    time.sleep(seconds / 2)
    wall, after = time.monotonic() - t0, threads_of(pid)
    rows = [(name, 1000 * (cpu - before[tid][1]) / wall, (sw - before[tid][2]) / wall)
            for tid, (name, cpu, sw) in after.items() if tid in before]
    trace = subprocess.run(["timeout", "-s", "INT", str(seconds / 2), "strace", "-c", "-f", "-p",
                            str(pid)], capture_output=True, text=True, timeout=seconds + 60).stderr
    table = [" ".join(l.split()) for l in trace.splitlines() if l.strip() and "---" not in l][:16]
    return {"threads": rows, "strace_seconds": seconds / 2, "strace": table}


def heap_probe(pid, work):
    """RSS per file; malloc_stats() and RSS before/after malloc_trim(0), called through gdb."""
    per_file = {}
    for name_perms, kib in smaps_breakdown(pid, top=1000)[1]:
        name = name_perms.rsplit(" (", 1)[0]
        per_file[name] = per_file.get(name, 0) + kib
    before = status_kib(pid, "VmRSS", "RssAnon", "RssFile")
    logged = (work / "agent.log").stat().st_size
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "call (void) malloc_stats()",
                    "-ex", "call (int) malloc_trim(0)", "-ex", "detach"],
                   capture_output=True, timeout=120)
    after = status_kib(pid, "VmRSS", "RssAnon", "RssFile")
    with open(work / "agent.log", "rb") as f:
        f.seek(logged)
        stats = [" ".join(l.split()) for l in f.read().decode(errors="replace").splitlines()
                 if "bytes" in l or l.startswith("Arena")]
    return {"rss_per_file_kib": sorted(per_file.items(), key=lambda kv: -kv[1]),
            "before_trim_kib": before, "after_trim_kib": after, "malloc_stats": stats}


# Agent variants for --only ablation: (label, peers, writer: None/"info"/"errors", agent YAML).
FULL_AGENT = ("sample:\n  interval: 1s\n{extra}processes:\n  - {{name: watched, pid_file: {w}/watched.pid}}\n"
              "probes:\n  - {{name: health, kind: http, port: {port}, path: /health}}\n"
              "logs:\n  kernel: true\n  sources:\n    - {{name: app, paths: ['{w}/logs/*.log']}}\n{logs}")
ABLATION = [
    ("as in the footprint table", False, "errors", FULL_AGENT),
    ("logs.mine_templates: false", False, "errors", FULL_AGENT.replace("{logs}", "  mine_templates: false\n")),
    ("batch.event_delay: 1s", False, "errors", FULL_AGENT.replace("{extra}", "batch:\n  event_delay: 1s\n")),
    ("logs.read_interval: 0s (read at every wake-up)", False, "errors",
     FULL_AGENT.replace("{logs}", "  read_interval: 0s\n")),
    ("logs.read_interval: 100ms", False, "errors", FULL_AGENT.replace("{logs}", "  read_interval: 100ms\n")),
    ("logs.read_interval: 250ms", False, "errors", FULL_AGENT.replace("{logs}", "  read_interval: 250ms\n")),
    ("logs.read_interval: 1s (one read pass a second)", False, "errors",
     FULL_AGENT.replace("{logs}", "  read_interval: 1s\n")),
    ("logs.poll_interval: 10s (fstat poll every 10 s)", False, "errors",
     FULL_AGENT.replace("{logs}", "  poll_interval: 10s\n")),
    ("INFO lines only (no line matches a rule)", False, "info", FULL_AGENT),
    ("no lines written (10 idle files)", False, None, FULL_AGENT),
    ("no log sources, process or probe", False, None, "sample:\n  interval: 1s\n"),
]


FOOTPRINT = (True, "errors", FULL_AGENT)  # the peers run too


def footprint_run(build, work, seconds, warmup, diagnose=False, variant=FOOTPRINT,
                  per_thread=False, window=None):
    peers, writer, agent_yaml = variant
    files = [work / "logs" / f"app{i}.log" for i in range(10)]
    files[0].parent.mkdir()
    for f in files:
        f.touch()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    got = {"udp": 0, "scrapes": 0, "scrape_bytes": 0}

    def drain(halt):
        while not halt.is_set():
            try:
                got["udp"] += len(udp.recv(65536))
            except socket.timeout:
                pass

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *a):
            pass

    probe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threads = [Background(drain), Background(lambda halt: probe.serve_forever(0.2))]
    watched = PROCS.start(["sleep", "3600"])
    (work / "watched.pid").write_text(f"{watched.pid}\n")
    exporter_port = free_port()
    exporter_argv = peer_configs(work, files, udp.getsockname()[1], exporter_port)
    medic = Medic(build, work)
    try:
        agent = medic.start(agent_yaml.replace("{extra}", "").replace("{logs}", "").format(
            w=work, port=probe.server_address[1]))
        tools = {"medic-agent": agent}
        tools.update(peers and {
            "collectd": PROCS.start(["collectd", "-f", "-C", work / "collectd.conf"],
                                    work / "collectd.out"),
            "node-exporter": PROCS.start(exporter_argv, work / "exporter.log"),
            "monit": PROCS.start(["monit", "-I", "-c", work / "monitrc"], work / "monit.out"),
        } or {})
        url = f"http://127.0.0.1:{exporter_port}/metrics"

        def scrape(halt):
            while not halt.wait(1.0):
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        got["scrape_bytes"] += len(r.read())
                        got["scrapes"] += 1
                except OSError:
                    pass

        threads.append(Background(scrape))
        if writer:
            threads.append(Background(lambda h: write_lines_steadily(files, 5, h, writer == "errors")))
        time.sleep(warmup)
        for name, p in tools.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited early ({p.returncode}); see {work}")
        start = {n: (cpu_seconds(p.pid), *sched(p.pid)[::2]) for n, p in tools.items()}
        m0, t0 = machine_busy(), time.monotonic()
        batches0, udp0, scrapes0 = medic.batches(), got["udp"], got["scrapes"]
        if diagnose:
            profile = syscall_window(agent.pid, work, seconds)
        elif window:
            profile = window(agent.pid, seconds)
        elif per_thread:
            profile = per_thread_window(agent.pid, seconds)
        else:
            time.sleep(seconds)
        wall, m1 = time.monotonic() - t0, machine_busy()
        out = {}
        for name, p in tools.items():
            cpu = cpu_seconds(p.pid) - start[name][0]
            mem = status_kib(p.pid, "VmRSS", "VmHWM")
            run_s, _, slices = sched(p.pid)
            out[name] = {"cpu_s": cpu, "run_s": run_s - start[name][1],
                         "wakeups": slices - start[name][2],
                         "wall": wall, "rss_kib": mem["VmRSS"], "hwm_kib": mem["VmHWM"],
                         "threads": len(list(Path(f"/proc/{p.pid}/task").iterdir()))}
        roll, top = smaps_breakdown(agent.pid)
        ours = sum(o["cpu_s"] for o in out.values())
        machine = {"busy_pct": 100.0 * (m1[0] - m0[0]) / CLK / wall - 100.0 * ours / wall}
        checks = {"agent batches acked in window": medic.batches() - batches0,
                  "collectd bytes to UDP": got["udp"] - udp0,
                  "node-exporter scrapes": got["scrapes"] - scrapes0,
                  "scrape KiB each": got["scrape_bytes"] / max(1, got["scrapes"]) / 1024,
                  "agent signals": len(medic.signals(0, 1000))}
        result = {"tools": out, "smaps_rollup": roll, "smaps_top": top, "machine": machine,
                  "checks": checks}
        if diagnose:
            result.update(profile=profile, heap=heap_probe(agent.pid, work))
        if per_thread or window:
            result.update(threads=profile)
        return result
    finally:
        for t in threads:
            t.halt.set()
        probe.shutdown()
        PROCS.stop_all()
        udp.close()


def newline_chunks(data, size=1 << 20):
    cuts, at = [], 0
    while at < len(data):
        end = min(len(data), at + size)
        if end < len(data):
            end = data.rindex(b"\n", at, end) + 1
        cuts.append((at, end))
        at = end
    return cuts


def append_all(path, data, cuts):
    view = memoryview(data)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for a, b in cuts:
            while a < b:
                a += os.write(fd, view[a:b])
    finally:
        os.close(fd)


def follow_once(tool, bench, work, corpus, lines, patterns, grow, timeout):
    """One follower over one file; returns wall s (first write to last line seen), CPU s."""
    data, cuts = corpus
    target = work / "follow.log"
    target.unlink(missing_ok=True)
    target.touch()
    if not grow:
        append_all(target, data, cuts)
    pin = 1 if os.cpu_count() > 1 else None
    procs, extra, start_tail = [], {}, None
    if tool.startswith("medic"):
        p = PROCS.start([bench, f"--file={target}", f"--lines={lines}", f"--timeout={timeout}",
                         "--mining=" + ("on" if "on" in tool else "off")], work / "medic.err",
                        cpu=pin, stdout=subprocess.PIPE)
        procs, watch = [p], p
        if not select.select([p.stdout], [], [], 30)[0] or p.stdout.readline().strip() != b"ready":
            raise RuntimeError("medic-log-pipeline-bench did not start")
    elif tool.startswith("tail"):
        # grep first, so that its read count before tail starts is the baseline
        r, w = os.pipe()
        grep = PROCS.start(["grep", "-E", "-f", patterns], cpu=pin, stdin=r,
                           stdout=open(work / "grep.out", "wb"), env={**os.environ, "LC_ALL": "C"})
        os.close(r)
        procs, watch = [grep], grep
        time.sleep(0.3)

        def start_tail():
            tail = PROCS.start(["tail", "-n", "+1", "-F", target], work / "tail.err", cpu=pin,
                               stdout=w)
            os.close(w)
            procs.insert(0, tail)
            return tail
        if grow:
            tail = start_tail()
            wait_until(lambda: has_open(tail.pid, target), 10, 0.01, "tail to open the file")
            time.sleep(0.2)
            start_tail = None
    else:
        pats = "".join(
            f'    <Match>\n      Regex "{p}"\n      DSType "CounterInc"\n      Type "counter"\n'
            f'      Instance "p{i}"\n    </Match>\n'
            for i, p in enumerate(patterns.read_text().replace("\\", "\\\\").replace('"', '\\"')
                                  .splitlines()))
        (work / "tp.conf").write_text(
            f'Hostname "bench"\nFQDNLookup false\nBaseDir "{work}"\nPIDFile "{work}/tp.pid"\n'
            f'TypesDB "/usr/share/collectd/types.db"\nInterval 0.1\nLoadPlugin csv\n'
            f'<Plugin csv>\n  DataDir "{work}/csv"\n</Plugin>\nLoadPlugin tail\n<Plugin tail>\n'
            f'  <File "{target}">\n    Instance "bench"\n{pats}    <Match>\n      Regex "."\n'
            '      DSType "CounterInc"\n      Type "counter"\n      Instance "lines"\n'
            "    </Match>\n  </File>\n</Plugin>\n")
        c = PROCS.start(["collectd", "-f", "-C", work / "tp.conf"], work / "tp.out", cpu=pin)
        procs, watch = [c], c
        wait_until(lambda: has_open(c.pid, target), 20, 0.01, "collectd to open the file")
        time.sleep(0.3)
    base = rchar(watch.pid)
    s0 = sched(*[p.pid for p in procs])
    t0 = time.time_ns()
    if start_tail:
        start_tail()
    if grow:
        append_all(target, data, cuts)
    written = (time.time_ns() - t0) / 1e9
    if tool.startswith("medic"):
        ready, _, _ = select.select([watch.stdout], [], [], timeout + 5)
        result = json.loads(watch.stdout.readline()) if ready else {"complete": False}
        t1 = result.get("done_unix_ns", time.time_ns())
        cpu, waited = result.get("cpu_s", 0.0), result.get("wait_s", 0.0)
        extra = {k: result.get(k) for k in ("matches", "signals", "events", "complete")}
    else:
        wait_until(lambda: rchar(watch.pid) - base >= len(data), timeout, 0.002, f"{tool} to read")
        t1 = time.time_ns()
        s1 = sched(*[p.pid for p in procs])
        cpu, waited = s1[0] - s0[0], s1[1] - s0[1]
    if tool.startswith("tail"):
        PROCS.stop(procs[0])
        procs[1].wait(30)
        extra["matched_lines"] = sum(1 for _ in open(work / "grep.out", "rb"))
    if tool.startswith("collectd"):
        extra["counted_lines"] = wait_until(lambda: csv_count(work / "csv", lines), 10, 0.1,
                                            "collectd's line counter")
    for p in procs:
        PROCS.stop(p)
    target.unlink()
    return {"wall_s": (t1 - t0) / 1e9, "cpu_s": cpu, "wait_s": waited, "writer_s": written,
            **extra}


def csv_count(root, want):
    for f in root.glob("*/tail-bench/counter-lines-*"):
        rows = f.read_text().strip().splitlines()
        if rows and rows[-1][0].isdigit() and float(rows[-1].split(",")[1]) >= want:
            return int(float(rows[-1].split(",")[1]))
    return None


def latency_run(build, work, trials, rng):
    victims = []
    for i in range(trials):
        p = PROCS.start(["sleep", "3600"])
        (work / f"victim{i}.pid").write_text(f"{p.pid}\n")
        victims.append(p)
    logfile = work / "latency.log"
    logfile.touch()
    procs_yaml = "".join(f"  - {{name: victim-{i}, pid_file: {work}/victim{i}.pid}}\n"
                         for i in range(trials))
    medic = Medic(build, work)
    try:
        medic.start(f"processes:\n{procs_yaml}logs:\n  sources:\n    - {{name: lat, paths: ['{logfile}']}}\n"
                    "log_rules:\n  - {id: bench-latency, pattern: 'benchlatency trial=', count: 1,"
                    " window: 1ms, quiet: 0s, severity: high, category: integration}\n")
        time.sleep(5)  # the first discovery and a few sampling rounds
        results = {"log": [], "metric": []}
        fd = os.open(logfile, os.O_WRONLY | os.O_APPEND)
        for i in range(trials):
            for kind in ("log", "metric"):
                since = int(time.time() * 1000) - 1000
                t = time.time_ns()
                if kind == "log":
                    os.write(fd, f"{time.strftime('%b %e %H:%M:%S')} bench app[1]: "
                                 f"benchlatency trial={i} written_ns={t}\n".encode())
                    match = lambda s: (s["rule"] == "bench-latency" and s["state"] == "firing"
                                       and f"trial={i} " in s["message"])
                else:
                    victims[i].kill()
                    victims[i].wait()
                    match = lambda s: (s["rule"] == "process-down" and s["state"] == "firing"
                                       and s["labels"].get("process") == f"victim-{i}")
                found = wait_until(lambda: [s for s in medic.signals(since) if match(s)], 15, 0.25,
                                   f"{kind} trial {i}")[0]
                results[kind].append({"detect_ms": found["time_ms"] - t / 1e6,
                                      "leave_ms": found["received_ms"] - t / 1e6})
                if kind == "log":  # the rule clears at the agent's next 1 s tick
                    wait_until(lambda: [s for s in medic.signals(since) if s["rule"] == "bench-latency"
                                        and s["state"] == "cleared"], 15, 0.25, "the clear")
                time.sleep(rng.uniform(0.2, 0.9))
        os.close(fd)
        return results
    finally:
        PROCS.stop_all()


def pct(values, q):
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)


def med(values):
    return f"{statistics.median(values):,.{dec(values)}f} ({min(values):,.{dec(values)}f}–{max(values):,.{dec(values)}f})"


def dec(values):
    top = max(abs(v) for v in values)
    return 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 1 else 3


def report_footprint(runs):
    print("| tool | RSS MiB | peak RSS (VmHWM) MiB | CPU % of one core | CPU ms per 1 s cycle "
          "| schedstat ms per s | times on a CPU per s | threads |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in runs[0]["tools"]:
        rows = [r["tools"][name] for r in runs]
        col = lambda f: med([f(x) for x in rows])
        print(f"| {name} | {col(lambda x: x['rss_kib'] / 1024)} | {col(lambda x: x['hwm_kib'] / 1024)} "
              f"| {col(lambda x: 100 * x['cpu_s'] / x['wall'])} | {col(lambda x: 1000 * x['cpu_s'] / x['wall'])} "
              f"| {col(lambda x: 1000 * x['run_s'] / x['wall'])} | {col(lambda x: x['wakeups'] / x['wall'])} "
              f"| {rows[0]['threads']} |")
    print("\nRatios, peer / medic (median of the per-run ratios):\n\n"
          "| peer | RSS | VmHWM | CPU (schedstat) |\n|---|---:|---:|---:|")
    for name in list(runs[0]["tools"])[1:]:
        ratio = lambda f: med([f(r["tools"][name]) / max(1e-9, f(r["tools"]["medic-agent"]))
                               for r in runs])
        print(f"| {name} | {ratio(lambda x: x['rss_kib'])} | {ratio(lambda x: x['hwm_kib'])} "
              f"| {ratio(lambda x: x['run_s'])} |")
    print("\nOther load on the machine during each window (% of one core, all CPUs): "
          + ", ".join(f"{r['machine']['busy_pct']:.0f}" for r in runs))
    print("\nChecks per run: " + "; ".join(json.dumps(r["checks"]) for r in runs))
    r = runs[len(runs) // 2]
    print("\nmedic-agent smaps_rollup (run 2, KiB): " + ", ".join(
        f"{k} {v}" for k, v in r["smaps_rollup"].items() if v))
    print("\n| mapping (perms) | RSS KiB |\n|---|---:|")
    for name, kib in r["smaps_top"]:
        print(f"| {name} | {kib} |")


def report_throughput(runs, lines, size):
    print(f"{lines:,} lines, {size / 1e6:.1f} MB. Follower pinned to CPU 1, writer to CPU 0. "
          "Per CPU-second: lines / CPU time of the follower (what one free core does); wall: "
          "lines / (first write to last line consumed) on the shared machine.\n")
    print("| follower | file | lines/s per CPU-s | MB/s per CPU-s | lines/s wall | MB/s wall "
          "| CPU s | waited for a CPU s | wall s | writer s | notes (run 1) |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key in runs[0]:
        rows = [r[key] for r in runs]
        notes = {k: v for k, v in rows[0].items() if not k.endswith("_s")}
        tool, mode = key.split("::")
        col = lambda f: med([f(x) for x in rows])
        print(f"| {tool} | {mode} | {col(lambda x: lines / x['cpu_s'])} "
              f"| {col(lambda x: size / 1e6 / x['cpu_s'])} | {col(lambda x: lines / x['wall_s'])} "
              f"| {col(lambda x: size / 1e6 / x['wall_s'])} | {col(lambda x: x['cpu_s'])} "
              f"| {col(lambda x: x['wait_s'])} | {col(lambda x: x['wall_s'])} "
              f"| {col(lambda x: x['writer_s'])} | {json.dumps(notes)} |")


def report_diagnosis(run):
    heap = run["heap"]
    print(f"RSS KiB before / after malloc_trim(0): {heap['before_trim_kib']} / "
          f"{heap['after_trim_kib']}\n\nmalloc_stats(): " + "; ".join(heap["malloc_stats"]))
    print("\n| file | RSS KiB (all its mappings) |\n|---|---:|")
    for name, kib in heap["rss_per_file_kib"][:20]:
        print(f"| {name} | {kib} |")
    print("\n| agent thread | CPU ms per s | context switches per s |\n|---|---:|---:|")
    for name, cpu, switches in run["profile"]["threads"]:
        print(f"| {name} | {cpu:.2f} | {switches:.1f} |")
    print(f"\nstrace -c -f over {run['profile']['strace_seconds']:.0f} s (all threads):\n\n```")
    print("\n".join(run["profile"]["strace"]) + "\n```")


def report_latency(runs):
    print("| trigger | measured to | p50 ms | p99 ms | max ms | trials |\n|---|---|---:|---:|---:|---:|")
    for kind, label in (("log", "error line appended"), ("metric", "watched process killed")):
        for field, to in (("detect_ms", "signal made in the agent (time_ms)"),
                          ("leave_ms", "signal at the coordinator (received_ms)")):
            per_run = [[t[field] for t in r[kind]] for r in runs]
            pooled = [v for run in per_run for v in run]
            print(f"| {label} | {to} | {med([pct(v, 0.5) for v in per_run])} | "
                  f"{med([pct(v, 0.99) for v in per_run])} | {max(pooled):.0f} | {len(pooled)} |")
            print(f"|  | pooled over all runs | {pct(pooled, 0.5):.0f} | {pct(pooled, 0.99):.0f} | | |")


def instructions_window(out_prefix):
    """For footprint_run(window=...): callgrind's instrumentation on for `seconds`, then a dump;
    instructions per second by thread, from the dump's per-thread files."""
    def window(pid, seconds):
        subprocess.run(["callgrind_control", "-i", "on", str(pid)], capture_output=True, check=True)
        t0 = time.monotonic()
        time.sleep(seconds)
        subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True)
        wall = time.monotonic() - t0
        per_thread = {}
        for f in sorted(out_prefix.parent.glob(out_prefix.name + ".1-*")):
            for line in f.read_text(errors="replace").splitlines():
                if line.startswith("summary:"):
                    per_thread[f.name.rsplit("-", 1)[1]] = int(line.split()[1]) / wall
        return per_thread
    return window


def report_instructions(by_build):
    print("| build | all threads | thread 1 (loop) | the other threads |\n|---|---:|---:|---|")
    for b, threads in by_build.items():
        loop = threads.get("01", 0)
        others = ", ".join(f"{t}: {v / 1000:.0f} k" for t, v in sorted(threads.items())
                           if t != "01" and v >= 1000)
        print(f"| {b} | {sum(threads.values()) / 1000:.0f} k | {loop / 1000:.0f} k | {others} |")


def report_ticks(runs):
    """Each burst of CPU (the agent's turns: a tick and what it set off) as one row; the table
    lists the ones with page faults or more than twice the median loop time, then the medians."""
    for n, run in enumerate(runs):
        names, rows = run["names"], run["rows"]
        bursts = []
        for a, b in zip(rows, rows[1:]):
            used = [(y - x) / 1000 for x, y in zip(a[3:], b[3:])]
            if sum(used) > 0:
                bursts.append((b[0], b[1] - a[1], b[2] - a[2], used))
        loop = sorted(u[0] for _, _, _, u in bursts)
        typical = loop[len(loop) // 2]
        print(f"\nRun {n + 1}: {len(bursts)} bursts; the loop's median {typical:.0f} µs. Bursts "
              "with page faults or over twice that (µs of CPU per thread):\n")
        print("| agent age s | minor / major faults | " + " | ".join(names) + " |\n|---:|---:|" +
              "---:|" * len(names))
        for age, minor, major, used in bursts:
            if minor + major > 0 or used[0] > 2 * typical:
                print(f"| {age:.1f} | {minor} / {major} | " + " | ".join(f"{u:.0f}" for u in used) + " |")


def report_threads(by_build):
    names = sorted({n for runs in by_build.values() for r in runs for n in r},
                   key=lambda n: (n != "loop", n))
    print("| build | total | " + " | ".join(names) + " |\n|---|" + "---:|" * (len(names) + 1))
    for build, runs in by_build.items():
        total = med([sum(r.values()) for r in runs])
        cells = [med([r.get(n, 0.0) for r in runs]) for n in names]
        print(f"| {build} | {total} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", type=Path, default=Path("build/bench"))
    ap.add_argument("--only", default="footprint,throughput,latency",
                    help="any of footprint,throughput,latency,diagnose,ablation,threads,"
                         "instructions,ticks")
    ap.add_argument("--against", type=Path, action="append", default=[],
                    help="threads: another build directory (an older commit, say) measured in "
                         "alternation with --build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--raw", type=Path, help="also write every measurement as JSON here")
    ap.add_argument("--profile-dir", type=Path,
                    help="instructions: keep callgrind's per-thread dumps here (one folder per "
                         "build), for callgrind_annotate")
    ap.add_argument("--variants", default="",
                    help="ablation: only the configurations whose label contains one of these "
                         "comma-separated words")
    args = ap.parse_args()
    build = args.build.resolve()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    raw = {"machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()}}
    try:
        with tempfile.TemporaryDirectory(prefix="medic-agent-bench-") as tmp:
            tmp = Path(tmp)
            if "footprint" in args.only:
                raw["footprint"] = []
                for run in range(args.runs):
                    log(f"footprint run {run + 1}/{args.runs}")
                    (tmp / f"fp{run}").mkdir()
                    raw["footprint"].append(footprint_run(build, tmp / f"fp{run}", args.seconds, args.warmup))
                print("### Footprint\n")
                report_footprint(raw["footprint"])
            if "diagnose" in args.only:
                log("agent diagnosis: one footprint run with strace, then gdb")
                (tmp / "diag").mkdir()
                raw["diagnose"] = footprint_run(build, tmp / "diag", args.seconds, args.warmup, True)
                print("\n### Agent diagnosis (one run)\n")
                report_diagnosis(raw["diagnose"])
            if "ablation" in args.only:
                words = [w for w in args.variants.split(",") if w]
                chosen = [v for v in ABLATION if not words or any(w in v[0] for w in words)]
                raw["ablation"] = {label: [] for label, *_ in chosen}
                for run in range(args.runs):  # variants interleaved, so drifting load hits all
                    for i, (label, *variant) in enumerate(chosen):
                        log(f"agent alone, run {run + 1}/{args.runs}: {label}")
                        (tmp / f"ab{run}-{i}").mkdir()
                        raw["ablation"][label].append(footprint_run(
                            build, tmp / f"ab{run}-{i}", args.seconds, args.warmup,
                            variant=variant)["tools"]["medic-agent"])
                print("\n### Agent alone, by configuration\n\n| configuration | RSS MiB | peak MiB "
                      "| CPU ms per 1 s cycle (schedstat) | times on a CPU per s |\n|---|---:|---:|---:|---:|")
                for label, rows in raw["ablation"].items():
                    print(f"| {label} | {med([a['rss_kib'] / 1024 for a in rows])} | "
                          f"{med([a['hwm_kib'] / 1024 for a in rows])} | "
                          f"{med([1000 * a['run_s'] / a['wall'] for a in rows])} | "
                          f"{med([a['wakeups'] / a['wall'] for a in rows])} |")
            if "threads" in args.only:
                builds = [build] + [b.resolve() for b in args.against]
                raw["threads"] = {str(b): [] for b in builds}
                for run in range(args.runs):  # builds interleaved, so drifting load hits all
                    for i, b in enumerate(builds):
                        log(f"agent alone, per thread, run {run + 1}/{args.runs}: {b}")
                        (tmp / f"th{run}-{i}").mkdir()
                        raw["threads"][str(b)].append(footprint_run(
                            b, tmp / f"th{run}-{i}", args.seconds, args.warmup,
                            variant=(False, "errors", FULL_AGENT), per_thread=True)["threads"])
                print("\n### Agent alone, per thread (CPU ms per second, schedstat)\n")
                report_threads(raw["threads"])
            if "ticks" in args.only:
                raw["ticks"] = []
                for run in range(args.runs):
                    log(f"agent alone, tick by tick, run {run + 1}/{args.runs}")
                    (tmp / f"tk{run}").mkdir()
                    raw["ticks"].append(footprint_run(
                        build, tmp / f"tk{run}", args.seconds, 0,
                        variant=(False, "errors", FULL_AGENT), window=tick_window)["threads"])
                print("\n### Agent alone, tick by tick (schedstat every 20 ms, from its first batch)")
                report_ticks(raw["ticks"])
            if "instructions" in args.only:
                builds = [build] + [b.resolve() for b in args.against]
                raw["instructions"] = {}
                for i, b in enumerate(builds):
                    log(f"agent alone under callgrind: {b}")
                    (tmp / f"cg{i}").mkdir()
                    prefix = tmp / f"cg{i}" / "callgrind.out"
                    AGENT_WRAPPER[:] = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                        "--separate-threads=yes", f"--callgrind-out-file={prefix}"]
                    try:
                        raw["instructions"][str(b)] = footprint_run(
                            b, tmp / f"cg{i}", args.seconds, args.warmup,
                            variant=(False, "errors", FULL_AGENT),
                            window=instructions_window(prefix))["threads"]
                    finally:
                        AGENT_WRAPPER.clear()
                    if args.profile_dir:
                        keep = args.profile_dir / f"build{i}"
                        keep.mkdir(parents=True, exist_ok=True)
                        for dump in prefix.parent.glob(prefix.name + ".1-*"):
                            shutil.copy(dump, keep / dump.name)
                print("\n### Agent alone, instructions per second (callgrind)\n")
                report_instructions(raw["instructions"])
            if "throughput" in args.only:
                follow_dir = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp
                with tempfile.TemporaryDirectory(prefix="medic-follow-", dir=follow_dir) as fdir:
                    fdir = Path(fdir)
                    bench = build / "tests/bench/medic-log-pipeline-bench"
                    patterns = fdir / "patterns.txt"
                    patterns.write_bytes(subprocess.run([bench, "--print-patterns"], check=True,
                                                        capture_output=True).stdout)
                    subprocess.run([bench, f"--write={fdir}/corpus", f"--lines={args.lines}"],
                                   check=True, capture_output=True)
                    data = (fdir / "corpus").read_bytes()
                    (fdir / "corpus").unlink()
                    corpus = (data, newline_chunks(data))
                    if os.cpu_count() > 1:
                        os.sched_setaffinity(0, {0})
                    raw["throughput"] = []
                    for run in range(args.runs):
                        res = {}
                        for tool, grow in (("medic, mining off", True), ("medic, mining on", True),
                                           ("tail -F \\| grep -E", True), ("collectd tail", True),
                                           ("medic, mining off", False), ("medic, mining on", False),
                                           ("tail -F \\| grep -E", False)):
                            log(f"throughput run {run + 1}/{args.runs}: {tool} ({'growing' if grow else 'written'})")
                            res[f"{tool}::{'growing' if grow else 'already written'}"] = follow_once(
                                tool, bench, fdir, corpus, args.lines, patterns, grow, args.timeout)
                        raw["throughput"].append(res)
                    os.sched_setaffinity(0, set(range(os.cpu_count())))
                print("\n### Log throughput\n")
                report_throughput(raw["throughput"], args.lines, len(data))
            if "latency" in args.only:
                raw["latency"] = []
                rng = random.Random(4)
                for run in range(args.runs):
                    log(f"latency run {run + 1}/{args.runs}")
                    (tmp / f"lat{run}").mkdir()
                    raw["latency"].append(latency_run(build, tmp / f"lat{run}", args.trials, rng))
                print("\n### Detection latency\n")
                report_latency(raw["latency"])
    finally:
        PROCS.stop_all()
        raw["machine"]["load_at_end"] = os.getloadavg()
        if args.raw:
            args.raw.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
