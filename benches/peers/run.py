#!/usr/bin/env python3
"""End-to-end benchmark of brum against the process runners people use today.

    python3 benches/peers/run.py            # full run (about 1.5 hours on 2 cores)
    python3 benches/peers/run.py --quick    # smoke version (shorter windows)
    python3 benches/peers/run.py --only brum-json,concurrently --reps 5

Python 3.11 standard library only. Installs the peers (pinned) into
target/peers/, writes target/peers/results.csv (raw), target/peers/results.md
(tables) and, unless --no-write, the section between the peers markers of
BENCHMARKS.md. See benches/peers/README.md for the workloads and methods.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import shlex
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = ROOT / "target" / "peers"
BRUM = ROOT / "target" / "release" / "brum"

# Exact pinned versions of the peers.
CONCURRENTLY = "10.0.7"
PM2 = "7.0.4"
MPROCS = "0.9.6"
HONCHO = "2.0.0"
FOREMAN_DEB = "ruby-foreman"  # Debian 12 ships 0.87.2-2

ALL_TOOLS = ["cat", "brum-json", "brum-json-plugins", "brum-human", "concurrently",
             "pm2", "honcho", "foreman", "mprocs", "brummer"]
PEERS = ["concurrently", "pm2", "honcho", "foreman", "mprocs"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
LINE_RE = re.compile(rb"(p\d+) (\d{10}) GET /api/items\?page=1 200 in 3ms - lorem ipsum dolor sit")
FULL_RE = re.compile(rb"(p\d+) (\d{10}) GET /api/items\?page=1 200 in 3ms - lorem ipsum dolor sit\Z")
FRAG_RE = re.compile(rb"p\d+ \d{10}|\d{10} GET|GET /api|lorem|ipsum dolor")
QUIET_RE = re.compile(rb"q (\d{10}) Q (\d+)")
ANSI_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup

def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)


class Env:
    def __init__(self):
        self.skipped: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self.bprod = SCRATCH / "bprod"
        self.npm = SCRATCH / "npm"
        self.py = SCRATCH / "py"
        self.mprocs_bin = self.npm / "node_modules" / "mprocs" / f"mprocs-{MPROCS}-linux-x86_64-musl" / "mprocs"

    def setup(self, tools):
        SCRATCH.mkdir(parents=True, exist_ok=True)
        r = sh(["gcc", "-O2", "-o", str(self.bprod), str(ROOT / "benches/peers/bprod.c")])
        if r.returncode != 0:
            sys.exit("gcc failed: " + r.stderr)
        if not BRUM.exists():
            log("building brum (cargo build --release -p brum)")
            subprocess.run(["cargo", "build", "--release", "-p", "brum"], cwd=ROOT, check=True)
        self.versions["brum"] = sh([str(BRUM), "--version"]).stdout.strip()
        try:
            commit = sh(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]).stdout.strip()
        except OSError:
            commit = ""
        if commit:
            self.versions["brum"] += f" (commit {commit})"
        self.versions["cat"] = sh(["cat", "--version"]).stdout.splitlines()[0]
        self.skipped["brummer"] = "not installable here (no published package or binary for this platform/registry set)"
        # npm peers
        want_npm = [t for t in ("concurrently", "pm2", "mprocs") if t in tools]
        if want_npm:
            def npm_ver(p):
                try:
                    return json.loads((self.npm / "node_modules" / p / "package.json").read_text())["version"]
                except Exception:
                    return None
            if (npm_ver("concurrently"), npm_ver("pm2"), npm_ver("mprocs")) != (CONCURRENTLY, PM2, MPROCS):
                if not shutil.which("npm"):
                    for t in want_npm:
                        self.skipped[t] = "npm not available"
                else:
                    log("npm install peers")
                    r = sh(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(self.npm),
                            f"concurrently@{CONCURRENTLY}", f"pm2@{PM2}", f"mprocs@{MPROCS}"])
                    if r.returncode != 0:
                        for t in want_npm:
                            self.skipped[t] = "npm install failed: " + r.stderr.strip()[-200:]
            for t in want_npm:
                v = npm_ver(t)
                if v and t not in self.skipped:
                    self.versions[t] = v
                elif t not in self.skipped:
                    self.skipped[t] = "npm package missing after install"
            if "mprocs" in self.versions and not self.mprocs_bin.exists():
                self.skipped["mprocs"] = "npm package ships no linux-x86_64 binary"
                del self.versions["mprocs"]
            if shutil.which("node"):
                self.versions["node"] = sh(["node", "--version"]).stdout.strip()
        if "honcho" in tools:
            if not (self.py / "honcho").exists():
                log("pip install honcho")
                r = sh([sys.executable, "-m", "pip", "install", "-q", "--target", str(self.py), f"honcho=={HONCHO}"])
                if r.returncode != 0:
                    self.skipped["honcho"] = "pip install failed: " + r.stderr.strip()[-200:]
            if "honcho" not in self.skipped:
                r = sh([sys.executable, "-m", "honcho", "version"], env={**os.environ, "PYTHONPATH": str(self.py)})
                if r.returncode == 0:
                    self.versions["honcho"] = (r.stdout + r.stderr).strip().split()[-1]
                else:
                    self.skipped["honcho"] = "honcho does not run: " + r.stderr.strip()[-200:]
            self.versions["python"] = sys.version.split()[0]
        if "foreman" in tools:
            if not shutil.which("foreman"):
                log("apt-get install ruby-foreman")
                sh("apt-get update -qq")
                r = sh(["apt-get", "install", "-y", "-qq", FOREMAN_DEB])
                if r.returncode != 0:
                    self.skipped["foreman"] = "apt-get install ruby-foreman failed: " + r.stderr.strip()[-200:]
            if shutil.which("foreman"):
                v = sh(["dpkg-query", "-W", "-f", "${Version}", FOREMAN_DEB]).stdout.strip()
                self.versions["foreman"] = v or sh(["foreman", "version"]).stdout.strip()
                self.versions["ruby"] = sh(["ruby", "-e", "print RUBY_VERSION"]).stdout.strip()
            elif "foreman" not in self.skipped:
                self.skipped["foreman"] = "foreman not found"
        if "mprocs" in tools and "mprocs" not in self.skipped:
            if not shutil.which("script"):
                self.skipped["mprocs"] = "needs a TTY and `script` (util-linux) is missing"
            else:
                self.versions["mprocs"] = MPROCS
        if "pm2" in self.versions:
            (SCRATCH / "pm2home").mkdir(exist_ok=True)


# ---------------------------------------------------------------- /proc

def proc_table():
    """pid -> (ppid, comm, utime+stime ticks)"""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = open(f"/proc/{d}/stat", "rb").read()
        except OSError:
            continue
        r = s.rindex(b")")
        comm = s[s.index(b"(") + 1:r].decode(errors="replace")
        f = s[r + 2:].split()
        out[int(d)] = (int(f[1]), comm, int(f[11]) + int(f[12]))
    return out


def tree(root, table=None):
    table = table or proc_table()
    kids = {}
    for pid, (pp, _, _) in table.items():
        kids.setdefault(pp, []).append(pid)
    res, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in table:
            res.append(p)
        todo.extend(kids.get(p, []))
    return res, table


def supervisor_pids(root):
    """The supervisor's process tree without the producers (comm bprod)."""
    pids, table = tree(root)
    return [p for p in pids if table[p][1] != "bprod"], table


def status_fields(pid, task=None):
    path = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    vals = {}
    try:
        for line in open(path):
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                vals[k] = int(v.split()[0])
    except OSError:
        pass
    return vals


def snapshot(root):
    """CPU seconds, context switches (all threads), RSS kB of the supervisor tree."""
    pids, table = supervisor_pids(root)
    cpu = sum(table[p][2] for p in pids) / CLK_TCK
    csw, rss = 0, 0
    for p in pids:
        rss += status_fields(p).get("VmRSS", 0)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            f = status_fields(p, t)
            csw += f.get("voluntary_ctxt_switches", 0) + f.get("nonvoluntary_ctxt_switches", 0)
    return {"cpu": cpu, "csw": csw, "rss_kb": rss, "pids": pids}


def kill_tree(root, sig=signal.SIGKILL):
    pids, _ = tree(root)
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass


def find_marker(marker):
    m = marker.encode()
    hits = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if m in open(f"/proc/{d}/cmdline", "rb").read():
                    hits.append(int(d))
            except OSError:
                pass
    return hits


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""


def reap(pid, timeout):
    """wait4 with a timeout: (status, rusage) or None."""
    end = time.monotonic() + timeout
    while True:
        p, st, ru = os.wait4(pid, os.WNOHANG)
        if p == pid:
            return st, ru
        if time.monotonic() > end:
            return None
        time.sleep(0.01)


def exit_code(st):
    return os.waitstatus_to_exitcode(st)


# ---------------------------------------------------------------- tools

class Run:
    """How to launch one tool over a list of processes [(name, argv)]."""

    def __init__(self, env: Env, tool: str, procs, wdir: Path, for_shutdown=False):
        self.tool, self.procs, self.wdir = tool, procs, wdir
        self.env = dict(os.environ)
        self.env.pop("NO_COLOR", None)
        self.env["FORCE_COLOR"] = "0"
        self.logdir = None
        wdir.mkdir(parents=True, exist_ok=True)
        names = [n for n, _ in procs]
        cmds = [shlex.join(a) for _, a in procs]
        if tool.startswith("brum"):
            toml = wdir / "brum.toml"
            with open(toml, "w") as f:
                for n, a in procs:
                    f.write(f"[process.{n}]\nargv = {json.dumps(a)}\n")
            self.argv = [str(BRUM), "run"]
            if tool != "brum-human":
                self.argv.append("--json")
            if tool != "brum-json-plugins":
                self.argv.append("--no-plugins")
            self.argv += ["--color", "never", "--config", str(toml)]
        elif tool == "concurrently":
            self.argv = [str(env.npm / "node_modules" / ".bin" / "concurrently"), "--no-color",
                         "-n", ",".join(names)] + cmds
        elif tool in ("honcho", "foreman"):
            pf = wdir / "Procfile"
            pf.write_text("".join(f"{n}: {c}\n" for n, c in zip(names, cmds)))
            if tool == "honcho":
                self.env["PYTHONPATH"] = str(env.py)
                self.argv = [sys.executable, "-m", "honcho", "start", "--no-colour", "-f", str(pf), "-d", str(wdir)]
            else:
                self.argv = ["foreman", "start", "-f", str(pf), "-d", str(wdir)]
        elif tool == "pm2":
            eco = wdir / "ecosystem.config.js"
            apps = [{"name": n, "script": a[0], "args": a[1:], "interpreter": "none",
                     "autorestart": False} for n, a in procs]
            eco.write_text("module.exports = " + json.dumps({"apps": apps}) + ";\n")
            self.env["PM2_HOME"] = str(SCRATCH / "pm2home")
            self.argv = [str(env.npm / "node_modules" / ".bin" / "pm2-runtime"), "start", str(eco)]
        elif tool == "mprocs":
            self.logdir = wdir / "mlog"
            shutil.rmtree(self.logdir, ignore_errors=True)
            inner = ("stty rows 40 cols 120; exec " + shlex.join(
                [str(env.mprocs_bin), "--log-dir", str(self.logdir), "--on-all-finished", "{c: quit}",
                 "--names", ",".join(names)] + cmds))
            self.argv = ["script", "-qfec", inner, "/dev/null"]
        elif tool == "cat":
            # producers share one pipe into cat (run by the harness, see start())
            self.argv = ["cat"]
        else:
            raise ValueError(tool)

    def start(self, stdout, stdin=subprocess.DEVNULL):
        if self.tool == "cat":
            r, w = os.pipe()
            self.feeders = [subprocess.Popen(a, stdout=w, stdin=subprocess.DEVNULL, env=self.env,
                                             start_new_session=True) for _, a in self.procs]
            os.close(w)
            p = subprocess.Popen(["cat"], stdin=r, stdout=stdout, env=self.env, start_new_session=True)
            os.close(r)
            return p
        self.feeders = []
        return subprocess.Popen(self.argv, stdout=stdout, stderr=subprocess.STDOUT if stdout != subprocess.DEVNULL else subprocess.DEVNULL,
                                stdin=stdin, env=self.env, cwd=self.wdir, start_new_session=True)

    def signal_target(self, pid):
        """The process a user's Ctrl-C would reach: mprocs itself under script."""
        if self.tool == "mprocs":
            pids, table = tree(pid)
            for p in pids:
                if table[p][1] == "mprocs":
                    return p
        return pid

    def reap_feeders(self):
        for f in self.feeders:
            try:
                f.wait(timeout=30)
            except subprocess.TimeoutExpired:
                f.kill()
                f.wait()


# ---------------------------------------------------------------- framing

PREFIX = {
    "brum-human": re.compile(rb"^(\S+)\s+([|!]) (.*)\Z", re.S),
    "concurrently": re.compile(rb"^\[([^\]]+)\] (.*)\Z", re.S),
    "honcho": re.compile(rb"^\d\d:\d\d:\d\d (\S+?)(?:\.\d+)?\s+\| (.*)\Z", re.S),
    "foreman": re.compile(rb"^\d\d:\d\d:\d\d (\S+?)(?:\.\d+)?\s+\| (.*)\Z", re.S),
}
JSON_LINE = re.compile(rb'^\{"seq":\d+,"ts":"[^"]*","type":"log\.line","process":"([^"]*)","stream":"(\w+)",(?:"truncated":true,)?"text":"(.*)"[,}]')


def parse_records(tool, out: Path, logdir: Path | None):
    """Yield (claimed process name or None, text bytes) for every output line."""
    if tool == "mprocs":
        for f in sorted(logdir.glob("*.log")) if logdir and logdir.exists() else []:
            name = f.stem.encode()
            with open(f, "rb") as fh:
                for line in fh:
                    yield name, ANSI_RE.sub(b"", line.rstrip(b"\r\n"))
        return
    with open(out, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            if tool.startswith("brum-json"):
                m = JSON_LINE.match(line)
                if m:
                    yield m.group(1), m.group(3)
                elif b'"log.line"' in line:
                    yield None, b"<unparsed json> " + line
                else:
                    yield None, b""
            elif tool in PREFIX:
                m = PREFIX[tool].match(line)
                if m:
                    yield m.group(1), m.group(m.lastindex)
                else:
                    yield None, line
            else:  # cat, pm2: raw lines (pm2-runtime prints app output unprefixed)
                yield None, line


def check_framing(tool, out, logdir, expect: dict):
    last = {n: 0 for n in expect}
    good = broken = dup = reorder = wrongname = 0
    for claimed, text in parse_records(tool, out, logdir):
        if not text:
            continue
        m = FULL_RE.match(text)
        if m:
            name = m.group(1).decode()
            seq = int(m.group(2))
            if claimed is not None and claimed.decode() != name:
                wrongname += 1
            if name not in last:
                broken += 1
                continue
            if seq == last[name] + 1:
                good += 1
                last[name] = seq
            elif seq <= last[name]:
                dup += 1
            else:
                reorder += 1  # gap: lines skipped (lost, or arrive later)
                good += 1
                last[name] = seq
        elif FRAG_RE.search(text):
            broken += 1
    total = sum(expect.values())
    lost = total - good
    return {"broken": broken, "lost": max(lost, 0), "dup": dup, "gaps": reorder, "wrongname": wrongname, "good": good}


# ---------------------------------------------------------------- workloads

class Bench:
    def __init__(self, args, env: Env):
        self.args, self.env = args, env
        self.rows = []  # dict rows for the CSV
        self.outdir = SCRATCH / "runs"
        shutil.rmtree(self.outdir, ignore_errors=True)
        self.outdir.mkdir(parents=True)

    def rec(self, workload, tool, rep, metric, value, note=""):
        self.rows.append({"workload": workload, "tool": tool, "rep": rep, "metric": metric,
                          "value": value, "note": note})

    def barrier_env(self, run: Run, k):
        bdir = run.wdir / "barrier"
        shutil.rmtree(bdir, ignore_errors=True)
        bdir.mkdir(parents=True)
        run.env["BPROD_BARRIER"] = str(bdir)
        run.env["BPROD_K"] = str(k)
        return bdir

    # 1+2. throughput and framing
    def throughput(self, wl, tool, rep, nproc, nlines):
        wdir = self.outdir / f"{wl}-{tool}-{rep}"
        cpudir = wdir / "cpu"
        cpudir.mkdir(parents=True)
        procs = [(f"p{i}", [str(self.env.bprod), "spew", f"p{i}", str(nlines), str(cpudir / f"p{i}")])
                 for i in range(nproc)]
        run = Run(self.env, tool, procs, wdir)
        bdir = self.barrier_env(run, nproc)
        out = wdir / "out.txt"
        watch = run.logdir if tool == "mprocs" else out
        timeout = self.args.timeout
        with open(out, "wb") as fo:
            t0 = time.monotonic()
            p = run.start(fo)
            # the tool's exit wakes the loop at once (a pidfd is readable when the
            # process ends), so wall is not rounded up to the 10 ms of the polls
            exited = os.pidfd_open(p.pid)
            peak, last_size, last_growth, done_at = 0, -1, t0, None
            res, n = None, 0
            while True:
                r = os.wait4(p.pid, os.WNOHANG)
                now = time.monotonic()
                if r[0] == p.pid:
                    res = ("exit", now, r[1], r[2])
                    break
                if n % 5 == 0:
                    peak = max(peak, snapshot(p.pid)["rss_kb"])
                n += 1
                size = (sum(f.stat().st_size for f in watch.glob("*.log")) if watch and watch.is_dir()
                        else (out.stat().st_size if watch == out else 0))
                if size != last_size:
                    last_size, last_growth = size, now
                if done_at is None and len(os.listdir(bdir)) >= nproc:
                    done_at = now
                # a tool that does not exit by itself when its processes end (pm2-runtime
                # retries for ~8 s): the run ends when the output stopped growing
                if done_at is not None and now - last_growth > 1.5 and now - done_at > 1.5:
                    res = ("settled", last_growth, None, None)
                    break
                if now - t0 > timeout:
                    res = ("timeout", now, None, None)
                    break
                select.select([exited], [], [], 0.01)
            os.close(exited)
            kind, t_end, st, ru = res
            if kind != "exit":
                os.kill(p.pid, signal.SIGINT)
                r = reap(p.pid, 3)
                if r is None:
                    kill_tree(p.pid)
                    r = reap(p.pid, 5)
                st, ru = r if r else (None, None)
            p.returncode = 0
        run.reap_feeders()
        kill_tree(p.pid)
        wall = t_end - t0
        prod_cpu = 0.0
        for i in range(nproc):
            try:
                u, s, *_ = open(cpudir / f"p{i}").read().split()
                prod_cpu += (int(u) + int(s)) / 1e6
            except (OSError, ValueError):
                pass
        if tool == "cat":
            sup_cpu = (ru.ru_utime + ru.ru_stime) if ru else float("nan")
        else:
            sup_cpu = (ru.ru_utime + ru.ru_stime - prod_cpu) if ru else float("nan")
        if ru:
            peak = max(peak, ru.ru_maxrss)
        total = nproc * nlines
        note = "" if kind == "exit" else kind
        if kind == "timeout":
            self.rec(wl, tool, rep, "status", "timeout", f">{timeout}s")
            log(f"  {wl} {tool} rep{rep}: TIMEOUT")
            return
        fr = check_framing(tool, out, run.logdir, {f"p{i}": nlines for i in range(nproc)})
        self.rec(wl, tool, rep, "wall_s", round(wall, 4), note)
        self.rec(wl, tool, rep, "lines_per_s", round(total / wall), note)
        self.rec(wl, tool, rep, "cpu_s", round(sup_cpu, 4))
        self.rec(wl, tool, rep, "peak_rss_mb", round(peak / 1024, 1))
        self.rec(wl, tool, rep, "exit_code", exit_code(st) if st is not None else "")
        for k, v in fr.items():
            self.rec(wl, tool, rep, k, v)
        log(f"  {wl} {tool} rep{rep}: {wall:.2f}s {total / wall / 1e6:.3f} Mlines/s cpu {sup_cpu:.2f}s "
            f"rss {peak / 1024:.0f}MB {fr} {note}")
        if not self.args.keep:
            out.unlink(missing_ok=True)
            if run.logdir:
                shutil.rmtree(run.logdir, ignore_errors=True)

    # 3. chatty + quiet
    def latency(self, wl, tool, rep, secs):
        wdir = self.outdir / f"{wl}-{tool}-{rep}"
        procs = [("c", [str(self.env.bprod), "spewfor", "c", str(secs + 0.5)]),
                 ("q", [str(self.env.bprod), "tick", "q", "10", str(secs)])]
        run = Run(self.env, tool, procs, wdir)
        self.barrier_env(run, 2)
        t0 = time.monotonic()
        p = run.start(subprocess.PIPE)
        fd = p.stdout.fileno()
        lat, buf, nbytes = [], b"", 0
        deadline = t0 + secs + 60
        while True:
            chunk = os.read(fd, 1 << 20)
            now = time.monotonic_ns()
            if not chunk:
                break
            nbytes += len(chunk)
            data = buf + chunk
            cut = data.rfind(b"\n") + 1
            for m in QUIET_RE.finditer(data, 0, cut):
                lat.append((now - int(m.group(2))) / 1e6)
            buf = data[cut:]
            if time.monotonic() > deadline or len(lat) >= int(secs * 100):
                break
        # drain until the tool exits (or give up)
        os.set_blocking(fd, False)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            try:
                c = os.read(fd, 1 << 20)
                if not c and p.poll() is not None:
                    break
            except BlockingIOError:
                if p.poll() is not None:
                    break
                time.sleep(0.05)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGINT)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                kill_tree(p.pid)
                p.wait()
        kill_tree(p.pid)
        p.stdout.close()
        run.reap_feeders()
        expected = int(secs * 100)
        if not lat:
            self.rec(wl, tool, rep, "status", "no quiet lines seen")
            log(f"  {wl} {tool} rep{rep}: no quiet lines")
            return
        lat.sort()
        q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
        self.rec(wl, tool, rep, "p50_ms", round(q(0.50), 3))
        self.rec(wl, tool, rep, "p99_ms", round(q(0.99), 3))
        self.rec(wl, tool, rep, "max_ms", round(lat[-1], 3))
        self.rec(wl, tool, rep, "quiet_seen", len(lat), f"of {expected}")
        self.rec(wl, tool, rep, "chatty_mb", round(nbytes / 1e6, 1))
        log(f"  {wl} {tool} rep{rep}: p50 {q(.5):.2f}ms p99 {q(.99):.2f}ms max {lat[-1]:.1f}ms "
            f"seen {len(lat)}/{expected} out {nbytes / 1e6:.0f}MB")

    # 4. typical dev load, 5. idle
    def steady(self, wl, tool, rep, window, rate=None):
        wdir = self.outdir / f"{wl}-{tool}-{rep}"
        warm = 3.0
        if rate:
            per = rate / 5
            procs = [(f"p{i}", [str(self.env.bprod), "rate", f"p{i}", str(per), str(warm + window + 2)])
                     for i in range(5)]
        else:
            procs = [(f"p{i}", [str(self.env.bprod), "idle", f"p{i}"]) for i in range(5)]
        run = Run(self.env, tool, procs, wdir)
        if rate:
            self.barrier_env(run, 5)
        out = wdir / "out.txt"
        with open(out, "wb") as fo:
            t0 = time.monotonic()
            p = run.start(fo)
            time.sleep(max(0, t0 + warm - time.monotonic()))
            a = snapshot(p.pid)
            ta = time.monotonic()
            time.sleep(max(0, ta + window - time.monotonic()))
            b = snapshot(p.pid)
            tb = time.monotonic()
            alive = p.poll() is None
            if rate:
                try:
                    p.wait(timeout=30 if tool != "pm2" else 15)
                except subprocess.TimeoutExpired:
                    pass
            if p.poll() is None:
                os.kill(run.signal_target(p.pid), signal.SIGINT)
                try:
                    p.wait(8)
                except subprocess.TimeoutExpired:
                    kill_tree(p.pid)
                    p.wait()
        kill_tree(p.pid)
        run.reap_feeders()
        el = tb - ta
        note = "" if alive else "supervisor exited during the window"
        cpu = b["cpu"] - a["cpu"]
        self.rec(wl, tool, rep, "cpu_pct", round(100 * cpu / el, 3), note)
        self.rec(wl, tool, rep, "cpu_s", round(cpu, 3), note)
        if b["csw"] >= a["csw"]:
            self.rec(wl, tool, rep, "wakeups_per_s", round((b["csw"] - a["csw"]) / el, 2), note)
            self.rec(wl, tool, rep, "ctx_switches", b["csw"] - a["csw"], note)
        else:  # threads ended during the window: their per-thread counters vanished
            self.rec(wl, tool, rep, "wakeups_per_s", "n/a", "threads came and went")
            self.rec(wl, tool, rep, "ctx_switches", "n/a", "threads came and went")
        self.rec(wl, tool, rep, "rss_mb", round(b["rss_kb"] / 1024, 1), note)
        if rate:
            lines = sum(1 for _ in open(out, "rb"))
            self.rec(wl, tool, rep, "out_lines", lines)
        log(f"  {wl} {tool} rep{rep}: cpu {100 * cpu / el:.2f}% wakeups {(b['csw'] - a['csw']) / el:.1f}/s "
            f"rss {b['rss_kb'] / 1024:.0f}MB procs {len(b['pids'])} {note}")

    # 6. shutdown
    def shutdown(self, wl, tool, rep):
        wdir = self.outdir / f"{wl}-{tool}-{rep}"
        marker = f"brumbench-hang-{tool}-{rep}-{os.getpid()}"
        procs = [("a", ["sh", "-c", f"{shlex.quote(str(self.env.bprod))} hang {marker} & wait"]),
                 ("b", [str(self.env.bprod), "idle", f"{marker}-b"])]
        run = Run(self.env, tool, procs, wdir)
        with open(wdir / "out.txt", "wb") as fo:
            p = run.start(fo)
            t = time.monotonic()
            while not find_marker(marker) and time.monotonic() - t < 10:
                time.sleep(0.1)
            time.sleep(1.0)
            if not find_marker(marker):
                self.rec(wl, tool, rep, "status", "grandchild never started")
                kill_tree(p.pid)
                p.wait()
                return
            target = run.signal_target(p.pid)
            ts = time.monotonic()
            os.kill(target, signal.SIGINT)
            exited_after = None
            while time.monotonic() - ts < 10:
                if p.poll() is not None and exited_after is None:
                    exited_after = time.monotonic() - ts
                time.sleep(0.02)
            if p.poll() is not None and exited_after is None:
                exited_after = time.monotonic() - ts
            surv = [s for s in find_marker(marker) if cmdline(s).split(b"\0")[1:2] == [b"hang"]]
            code = p.returncode
            kill_tree(p.pid)
            for s in surv:
                try:
                    os.kill(s, signal.SIGKILL)
                except OSError:
                    pass
            if p.poll() is None:
                p.wait()
        run.reap_feeders()
        for s in find_marker(marker):  # the idle producer `b` too
            try:
                os.kill(s, signal.SIGKILL)
            except OSError:
                pass
        self.rec(wl, tool, rep, "survivors", len(surv))
        self.rec(wl, tool, rep, "exit_s", round(exited_after, 3) if exited_after is not None else ">10",
                 "" if exited_after is not None else "still running 10 s after SIGINT")
        self.rec(wl, tool, rep, "exit_code", code if code is not None else "")
        log(f"  {wl} {tool} rep{rep}: survivors {len(surv)} exit after "
            f"{exited_after if exited_after is None else round(exited_after, 2)}s code {code}")

    # 7. exit codes
    def exitcodes(self, wl, tool, rep):
        wdir = self.outdir / f"{wl}-{tool}-{rep}"
        procs = [("a", ["sh", "-c", "sleep 0.5; exit 3"]), ("b", ["sh", "-c", "sleep 1.5"]),
                 ("c", ["sh", "-c", "sleep 1.5"])]
        run = Run(self.env, tool, procs, wdir)
        with open(wdir / "out.txt", "wb") as fo:
            t0 = time.monotonic()
            p = run.start(fo)
            try:
                code = p.wait(timeout=25)
                el = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                code, el = None, None
                kill_tree(p.pid)
                p.wait()
        kill_tree(p.pid)
        self.rec(wl, tool, rep, "exit_code", code if code is not None else "did not exit",
                 "" if code is not None else "still running after 25 s")
        self.rec(wl, tool, rep, "exit_s", round(el, 2) if el else "")
        log(f"  {wl} {tool} rep{rep}: exit code {code} after {el}")


# ---------------------------------------------------------------- report

def med_range(vals):
    nums = [v for v in vals if isinstance(v, (int, float))]
    if not nums:
        return None
    return statistics.median(nums), min(nums), max(nums)


def fmt(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, float) and abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.{nd}f}" if isinstance(x, float) else f"{x:,}"


def cell(rows, wl, tool, metric, nd=2, scale=1.0):
    vals = [r["value"] for r in rows if r["workload"] == wl and r["tool"] == tool and r["metric"] == metric]
    mr = med_range(vals)
    if mr is None:
        strs = sorted({str(v) for v in vals})
        return ", ".join(strs) if strs else "–"
    m, lo, hi = (v * scale for v in mr)
    if lo == hi:
        return fmt(m, nd)
    return f"{fmt(m, nd)} ({fmt(lo, nd)}–{fmt(hi, nd)})"


def median_of(rows, wl, tool, metric):
    mr = med_range([r["value"] for r in rows if r["workload"] == wl and r["tool"] == tool and r["metric"] == metric])
    return mr[0] if mr else None


def status_of(rows, wl, tool):
    s = [r for r in rows if r["workload"] == wl and r["tool"] == tool and r["metric"] == "status"]
    return (s[0]["value"] + (" " + s[0]["note"] if s[0]["note"] else "")) if s else None


def report(bench: Bench, env: Env, tools, args, started):
    rows = bench.rows
    L = []
    present = [t for t in tools if t not in env.skipped]
    peers_present = [t for t in present if t in PEERS]
    tp_wls = [w for w in ("throughput-1x", "throughput-2x", "throughput-8x") if any(r["workload"] == w for r in rows)]
    for wl in tp_wls:
        lab = {"throughput-1x": f"1 × {args.lines2:,} lines", "throughput-2x": f"2 × {args.lines2:,} lines",
               "throughput-8x": f"8 × {args.lines8:,} lines"}[wl]
        L.append(f"**Throughput and framing, {lab}** (~70-byte lines, output to a file; median (min–max) of {args.reps} reps)\n")
        L.append("| tool | lines/s | wall s | CPU s (supervisor) | peak RSS MB | broken | lost | dup/gaps | × best peer | cat ÷ tool |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        best_peer = max((median_of(rows, wl, t, "lines_per_s") or 0 for t in peers_present), default=0)
        catv = median_of(rows, wl, "cat", "lines_per_s")
        for t in present:
            st = status_of(rows, wl, t)
            lps = median_of(rows, wl, t, "lines_per_s")
            if lps is None:
                L.append(f"| {t} | {st or 'no data'} | | | | | | | | |")
                continue
            ratio_peer = f"{lps / best_peer:.1f}×" if best_peer and t not in PEERS else ("best" if lps == best_peer else f"{lps / best_peer:.2f}×") if best_peer else "–"
            ratio_cat = f"{catv / lps:.2f}" if catv else "–"
            dg = f"{cell(rows, wl, t, 'dup', 0)}/{cell(rows, wl, t, 'gaps', 0)}"
            nto = sum(1 for r in rows if r["workload"] == wl and r["tool"] == t and r["value"] == "timeout")
            tname = f"{t} ({nto} of {args.reps} runs hung > {args.timeout:g} s)" if nto else t
            L.append(f"| {tname} | {cell(rows, wl, t, 'lines_per_s', 0)} | {cell(rows, wl, t, 'wall_s', 2)} | "
                     f"{cell(rows, wl, t, 'cpu_s', 2)} | {cell(rows, wl, t, 'peak_rss_mb', 1)} | "
                     f"{cell(rows, wl, t, 'broken', 0)} | {cell(rows, wl, t, 'lost', 0)} | {dg} | {ratio_peer} | {ratio_cat} |")
        L.append("")
    if any(r["workload"] == "latency" for r in rows):
        L.append(f"**Chatty + quiet**: one process spews for {args.lat_secs} s while another prints a CLOCK_MONOTONIC "
                 "timestamp every 10 ms; latency from the quiet line's timestamp to its arrival on the supervisor's stdout pipe (ms)\n")
        L.append("| tool | p50 ms | p99 ms | max ms | quiet lines seen | MB read |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for t in present:
            if t in ("cat", "brum-human"):
                continue
            st = status_of(rows, "latency", t)
            if st and median_of(rows, "latency", t, "p50_ms") is None:
                L.append(f"| {t} | {st} | | | | |")
                continue
            L.append(f"| {t} | {cell(rows, 'latency', t, 'p50_ms', 2)} | {cell(rows, 'latency', t, 'p99_ms', 2)} | "
                     f"{cell(rows, 'latency', t, 'max_ms', 1)} | {cell(rows, 'latency', t, 'quiet_seen', 0)} of {int(args.lat_secs * 100)} | "
                     f"{cell(rows, 'latency', t, 'chatty_mb', 0)} |")
        L.append("")
    for wl, title in (("devload", f"**Typical dev load**: 5 processes, 265 lines/s in total, {args.dev_secs} s window"),
                      ("idle", f"**Idle**: 5 processes printing nothing, {args.idle_secs} s window")):
        if not any(r["workload"] == wl for r in rows):
            continue
        L.append(title + " (supervisor tree without the producers, from /proc)\n")
        L.append("| tool | CPU % of a core | CPU s | wake-ups/s | context switches | RSS MB |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for t in present:
            if t in ("cat", "brum-human"):
                continue
            L.append(f"| {t} | {cell(rows, wl, t, 'cpu_pct', 3)} | {cell(rows, wl, t, 'cpu_s', 2)} | "
                     f"{cell(rows, wl, t, 'wakeups_per_s', 1)} | {cell(rows, wl, t, 'ctx_switches', 0)} | {cell(rows, wl, t, 'rss_mb', 1)} |")
        L.append("")
    if any(r["workload"] in ("shutdown", "exitcode") for r in rows):
        L.append("**Shutdown and exit codes**: SIGINT to the supervisor while a grandchild ignores SIGTERM; "
                 "one of three processes exits 3 (right answer: 3)\n")
        L.append("| tool | survivors after 10 s | time to exit s | exit code after SIGINT | exit code (one exits 3) |")
        L.append("|---|---:|---:|---:|---:|")
        for t in present:
            if t in ("cat", "brum-human"):
                continue
            L.append(f"| {t} | {cell(rows, 'shutdown', t, 'survivors', 0)} | {cell(rows, 'shutdown', t, 'exit_s', 2)} | "
                     f"{cell(rows, 'shutdown', t, 'exit_code', 0)} | {cell(rows, 'exitcode', t, 'exit_code', 0)} |")
        L.append("")
    # goals
    G = goals(rows, peers_present)
    if G:
        L.append("**Goals** (issue 6)\n")
        L.append("| goal | measured | met |")
        L.append("|---|---|---|")
        L += [f"| {g} | {m} | {'yes' if ok else '**no**'} |" for g, m, ok in G]
        L.append("")
    if env.skipped:
        L.append("Skipped: " + "; ".join(f"**{t}**: {why}" for t, why in env.skipped.items() if t in tools) + ".\n")
    return "\n".join(L)


def goals(rows, peers):
    G = []
    wl = "throughput-2x"
    b = median_of(rows, wl, "brum-json", "lines_per_s")
    if b:
        best = max((median_of(rows, wl, t, "lines_per_s") or 0 for t in peers), default=0)
        cat = median_of(rows, wl, "cat", "lines_per_s")
        if best:
            bound = f"; 3× it is {3 * best / cat:.0%} of cat's rate" if cat else ""
            G.append(("brum --json ≥ 3× the fastest peer (2 processes)", f"{b / best:.1f}×{bound}", b / best >= 3))

        # a peer whose output lost or broke lines in any repetition did not
        # do the job, however fast: compare with the fastest that did
        def intact(t):
            vals = [r["value"] for r in rows if r["workload"] == wl and r["tool"] == t
                    and r["metric"] in ("broken", "lost")]
            return bool(vals) and all(v == 0 for v in vals)
        whole = [(median_of(rows, wl, t, "lines_per_s") or 0, t) for t in peers if intact(t)]
        if whole:
            bw, tw = max(whole)
            if bw:
                G.append((f"brum --json ≥ 3× the fastest peer that delivered every line intact ({tw})",
                          f"{b / bw:.0f}×", b / bw >= 3))
        if cat:
            G.append(("brum --json within 3× of cat", f"cat ÷ brum = {cat / b:.2f}", cat / b <= 3))
        br = max((r["value"] for r in rows if r["tool"].startswith("brum") and r["metric"] == "broken"
                  and r["workload"].startswith("throughput")), default=None)
        if br is not None:
            G.append(("zero broken lines (all brum modes)", f"max {br}", br == 0))
    bp = median_of(rows, wl, "brum-json-plugins", "lines_per_s")
    if bp:
        G.append(("with plugins ≥ 1 M lines/s", f"{bp / 1e6:.2f} M lines/s", bp >= 1e6))
    c = median_of(rows, "devload", "brum-json", "cpu_pct")
    if c is not None:
        G.append(("CPU at 265 lines/s < 1 % of a core", f"{c:.2f} % (plugins: {median_of(rows, 'devload', 'brum-json-plugins', 'cpu_pct') or 0:.2f} %)", c < 1))
    w = [median_of(rows, "idle", t, "ctx_switches") for t in ("brum-json", "brum-json-plugins")]
    if w[0] is not None:
        G.append(("idle: zero wake-ups", f"{w[0]:.0f} context switches (plugins: {w[1] if w[1] is not None else '–'})", w[0] == 0 and (w[1] in (0, None))))
    p = median_of(rows, "latency", "brum-json", "p99_ms")
    if p is not None:
        G.append(("quiet p99 < 2 ms", f"{p:.2f} ms (plugins: {median_of(rows, 'latency', 'brum-json-plugins', 'p99_ms') or 0:.2f} ms)", p < 2))
    s = max((r["value"] for r in rows if r["workload"] == "shutdown" and r["tool"].startswith("brum") and r["metric"] == "survivors"), default=None)
    if s is not None:
        G.append(("zero survivors", f"{s}", s == 0))
    e = {r["value"] for r in rows if r["workload"] == "exitcode" and r["tool"].startswith("brum") and r["metric"] == "exit_code"}
    if e:
        G.append(("exit code 3", ", ".join(map(str, sorted(e, key=str))), e == {3}))
    return G


def machine():
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores (nproc {sh('nproc').stdout.strip()}), CPU `{model}`, kernel {os.uname().release}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short windows (20 s dev load, 10 s idle, 5 s latency)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per workload (default 5, quick 3)")
    ap.add_argument("--only", default="", help="comma-separated tools, from: " + ",".join(ALL_TOOLS))
    ap.add_argument("--workloads", default="throughput,latency,devload,idle,shutdown,exitcode",
                    help="comma-separated; also throughput-1x (one process, the 2x line count), not in the default")
    ap.add_argument("--timeout", type=float, default=60, help="cap per throughput run, seconds")
    ap.add_argument("--scale", type=float, default=None, help="scale the throughput line counts (default 1, quick 0.25)")
    ap.add_argument("--dev-secs", type=float, help="dev-load window (default 60, quick 20)")
    ap.add_argument("--idle-secs", type=float, help="idle window (default 30, quick 10)")
    ap.add_argument("--lat-secs", type=float, help="chatty+quiet duration (default 10, quick 5)")
    ap.add_argument("--keep", action="store_true", help="keep the output files of each run")
    ap.add_argument("--no-write", action="store_true", help="do not edit BENCHMARKS.md")
    args = ap.parse_args()
    args.reps = args.reps or (3 if args.quick else 5)
    if args.scale is None:
        args.scale = 0.25 if args.quick else 1.0
    args.lines2, args.lines8 = int(1_000_000 * args.scale), int(250_000 * args.scale)
    args.dev_secs = args.dev_secs or (20 if args.quick else 60)
    args.idle_secs = args.idle_secs or (10 if args.quick else 30)
    args.lat_secs = args.lat_secs or (5 if args.quick else 10)
    tools = [t for t in (args.only.split(",") if args.only else ALL_TOOLS) if t]
    for t in tools:
        if t not in ALL_TOOLS:
            sys.exit(f"unknown tool {t}")
    wls = args.workloads.split(",")
    started = dt.datetime.now(dt.timezone.utc)
    env = Env()
    env.setup(tools)
    for t, why in env.skipped.items():
        if t in tools:
            log(f"skipped {t}: {why}")
    run_tools = [t for t in tools if t not in env.skipped]
    bench = Bench(args, env)

    def rotated(ts, rep):
        k = rep % len(ts) if ts else 0
        return ts[k:] + ts[:k]

    plan = []
    if "throughput-1x" in wls:
        # one process printing 2x's line count (1,000,000 at scale 1)
        plan.append(("throughput-1x", run_tools, lambda t, r: bench.throughput("throughput-1x", t, r, 1, args.lines2)))
    if "throughput" in wls:
        plan.append(("throughput-2x", run_tools, lambda t, r: bench.throughput("throughput-2x", t, r, 2, args.lines2)))
        plan.append(("throughput-8x", run_tools, lambda t, r: bench.throughput("throughput-8x", t, r, 8, args.lines8)))
    no_cat = [t for t in run_tools if t not in ("cat", "brum-human")]
    lat_tools = [t for t in no_cat if t != "mprocs"]
    if "mprocs" in no_cat and "latency" in wls:
        bench.rec("latency", "mprocs", 0, "status", "n/a", "TUI: stdout is a screen, not a line stream")
    if "latency" in wls:
        plan.append(("latency", lat_tools, lambda t, r: bench.latency("latency", t, r, args.lat_secs)))
    if "devload" in wls:
        plan.append(("devload", no_cat, lambda t, r: bench.steady("devload", t, r, args.dev_secs, rate=265)))
    if "idle" in wls:
        plan.append(("idle", no_cat, lambda t, r: bench.steady("idle", t, r, args.idle_secs)))
    if "shutdown" in wls:
        plan.append(("shutdown", no_cat, lambda t, r: bench.shutdown("shutdown", t, r)))
    if "exitcode" in wls:
        plan.append(("exitcode", no_cat, lambda t, r: bench.exitcodes("exitcode", t, r)))
    csv_path = SCRATCH / "results.csv"

    def save():
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["workload", "tool", "rep", "metric", "value", "note"])
            w.writeheader()
            w.writerows(bench.rows)

    try:
        for name, ts, fn in plan:
            log(f"== {name}")
            for rep in range(args.reps):
                for t in rotated(ts, rep):
                    try:
                        fn(t, rep)
                    except Exception as e:  # a broken peer must not stop the run
                        bench.rec(name, t, rep, "status", "error", repr(e)[:200])
                        log(f"  {name} {t} rep{rep}: ERROR {e!r}")
                save()
    finally:
        save()
    table = report(bench, env, tools, args, started)
    cmd = "python3 benches/peers/run.py" + (" --quick" if args.quick else "") + (f" --reps {args.reps}" if args.reps != (3 if args.quick else 5) else "") + (f" --only {args.only}" if args.only else "") + (f" --scale {args.scale:g}" if args.scale != (0.25 if args.quick else 1.0) else "")
    vers = ", ".join(f"{k} {v}" for k, v in env.versions.items())
    section = (f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}; "
               f"{args.reps} repetitions per workload, tool order rotated each repetition.\n\n"
               f"Versions: {vers}.\n\nReproduce from the repository root (installs the pinned peers into "
               f"`target/peers/`, needs gcc, npm, pip, apt-get for foreman, `script`):\n\n"
               f"```sh\n{cmd}\n```\n\nRaw results: `target/peers/results.csv`; methods and caveats: "
               f"[benches/peers/README.md](benches/peers/README.md).\n\n{table}")
    (SCRATCH / "results.md").write_text(section + "\n")
    print(section)
    if not args.no_write:
        bm = ROOT / "BENCHMARKS.md"
        text = bm.read_text()
        a, b = "<!-- peers:begin -->", "<!-- peers:end -->"
        i, j = text.index(a) + len(a), text.index(b)
        bm.write_text(text[:i] + "\n" + section + "\n" + text[j:])
        log(f"updated {bm}")


if __name__ == "__main__":
    main()
