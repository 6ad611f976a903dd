#!/usr/bin/env python3
"""One hostile local client against a running brum (release build): `ps`
latency (p50/p99 of 50 round trips) and brum's peak RSS under each attack
of the control-plane table in docs/reliability.md.

    cargo build --release && python3 benches/attack/run.py [path/to/brum]
"""
import json, os, socket, statistics, subprocess, sys, tempfile, threading, time

BRUM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/brum")
CHATTY = """ring_bytes = "8MiB"
[process.chatty]
cmd = "while :; do seq -f 'line %g of the chatty process, padded to look like a log' 1 20000; sleep 0.05; done"
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


def ask(sock, req, timeout=30):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    t = time.perf_counter()
    s.connect(sock)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf or b"{}"), (time.perf_counter() - t) * 1000


class Session:
    def __init__(self, toml):
        self.dir = tempfile.mkdtemp(prefix="brum-attack-")
        open(os.path.join(self.dir, "brum.toml"), "w").write(toml)
        self.p = subprocess.Popen([BRUM, "run", "--json"], cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=lambda: [None for _ in self.p.stdout], daemon=True).start()
        self.sock = os.path.join(self.dir, ".brum", "brum.sock")
        for _ in range(2000):
            if os.path.exists(self.sock):
                try:
                    ask(self.sock, {"cmd": "hello"})
                    break
                except OSError:
                    pass
            time.sleep(0.01)
        self.base = rss_kib(self.p.pid)
        self.peak = self.base

    def sample(self, n=50, gap=0.05):
        lat = []
        for _ in range(n):
            _, ms = ask(self.sock, {"cmd": "ps"})
            lat.append(ms)
            self.peak = max(self.peak, rss_kib(self.p.pid))
            time.sleep(gap)
        lat.sort()
        return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]

    def close(self):
        try:
            ask(self.sock, {"cmd": "shutdown"})
        except OSError:
            pass
        self.p.wait(timeout=30)


def report(name, s, p50, p99):
    print(f"| {name} | {p50:.1f} | {p99:.1f} | +{(s.peak - s.base) / 1024:.0f} MiB |")


def main():
    print(f"brum: {BRUM}\n\n| attack | ps p50 ms | ps p99 ms | peak RSS growth |\n|---|---|---|---|")
    s = Session(CHATTY)
    time.sleep(2)
    p50, p99 = s.sample()
    report("none (chatty process, full 8 MiB ring)", s, p50, p99)
    # 1+2: 300 pipelined regex searches, never read
    a = socket.socket(socket.AF_UNIX)
    a.connect(s.sock)
    a.setblocking(False)
    flood = (json.dumps({"cmd": "logs", "process": "chatty", "n": 10000, "regex": "\\w{60}"}) + "\n").encode() * 300
    sent = 0
    def push():
        nonlocal sent
        while sent < len(flood):
            try:
                sent += a.send(flood[sent:])
            except BlockingIOError:
                break
    push()
    p50, p99 = s.sample()
    report("300 pipelined `logs` regex `\\w{60}` n=10000, never read", s, p50, p99)
    a.close()
    # 3: 300 tails that never read
    tails = []
    for _ in range(300):
        t = socket.socket(socket.AF_UNIX)
        t.connect(s.sock)
        t.sendall(b'{"cmd":"tail","since":0}\n')
        tails.append(t)
    p50, p99 = s.sample()
    report("300 `tail --since 0` that never read", s, p50, p99)
    for t in tails:
        t.close()
    # 4: 1,024 idle connections
    idle = []
    for _ in range(1024):
        c = socket.socket(socket.AF_UNIX)
        c.connect(s.sock)
        idle.append(c)
    p50, p99 = s.sample(n=30)
    report("1,024 idle connections (ps on a reserved slot)", s, p50, p99)
    for c in idle:
        c.close()
    s.close()
    # 6: 300 processes starting
    toml = "".join(f'[process.p{i}]\ncmd = "sleep 876900"\n' for i in range(300))
    s = Session(toml)
    p50, p99 = s.sample(n=20, gap=0.01)
    report("300 processes starting (ps during start-up)", s, p50, p99)
    s.close()


if __name__ == "__main__":
    main()
