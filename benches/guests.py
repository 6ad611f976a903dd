#!/usr/bin/env python3
"""Load time and per-line cost of the example plugins in Rust, Python and
JavaScript (examples/todo-plugin, todo-python, todo-js), through the real
`brum` binary.

    cargo build --release
    cargo build --release --target wasm32-wasip2 --manifest-path examples/todo-plugin/Cargo.toml
    bash examples/todo-python/build.sh
    npm ci --prefix examples/todo-js && npm run --prefix examples/todo-js build
    python3 benches/guests.py [--lines 200000] [--runs 3]

Load: `load_ms` of the plugin's `plugin.loaded` event, cold (an empty
compiled-component cache: brum compiles) and warm (from the cache it
filled). Per line: a process prints N lines (1 in 100 has a TODO); the
session's wall time with only that plugin (`--no-plugins --plugin FILE`)
minus the same session with no plugin, over N. Medians of the runs. The
machine is shared: read ratios, not absolute numbers.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRUM = os.path.join(ROOT, "target/release/brum")
PLUGINS = [
    ("rust", "todo", "examples/todo-plugin/target/wasm32-wasip2/release/todo_plugin.wasm"),
    ("python", "todo-python", "examples/todo-python/todo_python.wasm"),
    ("javascript", "todo-js", "examples/todo-js/todo_js.wasm"),
]


def workload(n):
    return (
        f"awk 'BEGIN {{ for (i = 1; i <= {n}; i++) "
        'if (i % 100 == 0) print "TODO: item " i; '
        'else print "GET /api/items/" i " 200 3ms" }\''
    )


def brum(args, cwd, cache):
    env = dict(os.environ, BRUM_CACHE_DIR=cache)
    start = time.monotonic()
    out = subprocess.run([BRUM, *args], cwd=cwd, env=env, capture_output=True, check=True)
    return time.monotonic() - start, out.stdout


def load_ms(plugin_file, name, cwd, cache):
    """(cached, load_ms, wall seconds of the whole `brum run -- true`)"""
    wall, out = brum(["run", "--json", "--no-plugins", "--plugin", plugin_file, "--", "true"], cwd, cache)
    for line in out.splitlines():
        e = json.loads(line)
        if e["type"] == "plugin.loaded" and e["plugin"] == name:
            return e["cached"], e["load_ms"], wall
        if e["type"] == "plugin.failed":
            raise SystemExit(f"{plugin_file}: {e['reason']}")
    raise SystemExit(f"{plugin_file}: no plugin.loaded")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    cwd = tempfile.mkdtemp(prefix="brum-guests-")
    base_cache = tempfile.mkdtemp(prefix="brum-guests-cache-")
    cmd = ["sh", "-c", workload(a.lines)]
    base = statistics.median(
        brum(["run", "--no-plugins", "--", *cmd], cwd, base_cache)[0] for _ in range(a.runs)
    )
    print(f"{a.lines} lines, no plugin: {base:.2f} s")
    empty = statistics.median(brum(["run", "--no-plugins", "--", "true"], cwd, base_cache)[0] for _ in range(a.runs))
    print(f"`brum run --no-plugins -- true`: {empty * 1000:.0f} ms")
    print("| plugin | wasm | load cold | load warm | `run -- true` warm | per line | lines/s |")
    print("|---|---|---|---|---|---|---|")
    for lang, name, rel in PLUGINS:
        path = os.path.join(ROOT, rel)
        cache = tempfile.mkdtemp(prefix=f"brum-guests-{lang}-")
        cached, cold, _ = load_ms(path, name, cwd, cache)
        assert not cached, "an empty cache compiles"
        warm, walls = [], []
        for _ in range(a.runs):
            cached, ms, wall = load_ms(path, name, cwd, cache)
            assert cached, "the second load comes from the cache"
            warm.append(ms)
            walls.append(wall)
        t = statistics.median(
            brum(["run", "--no-plugins", "--plugin", path, "--", *cmd], cwd, cache)[0] for _ in range(a.runs)
        )
        per_line = (t - base) / a.lines
        size = os.path.getsize(path)
        print(
            f"| {lang} ({name}) | {size / 1e6:.2f} MB | {cold / 1000:.1f} s | {statistics.median(warm)} ms "
            f"| {statistics.median(walls) * 1000:.0f} ms | {per_line * 1e6:.2f} µs | {1 / per_line if per_line > 0 else float('inf'):,.0f} |"
        )


if __name__ == "__main__":
    main()
