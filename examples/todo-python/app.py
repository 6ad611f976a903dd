"""A brum detector in Python, built with componentize-py: every printed line
containing a marker (TODO and FIXME, or the words of the `markers` setting)
becomes a `todo` finding.

Settings, from `[plugin.todo-python]` in brum.toml:
  markers = "TODO,FIXME,XXX"   the words to look for (comma-separated)
  severity = "warning"         info (the default), warning or error
  probe_sandbox = "true"       at configure, try to read a file, open a socket
                               and resolve a name, and log what the sandbox
                               answered (each is refused)

Build: ./build.sh (componentize-py from PyPI into ./.venv), then copy
todo_python.wasm into .brum/plugins/.
"""
import socket
import sys

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import Finding, Info, Kind, Output, Severity

SEVERITIES = {"info": Severity.INFO, "warning": Severity.WARNING, "error": Severity.ERROR}


def nothing() -> Output:
    return Output(findings=[], verdicts=[], tick_after_ms=None)


def probe_sandbox() -> None:
    """Each attempt fails with an ordinary Python exception: brum links
    files, sockets and name lookup to a sandbox that grants nothing."""

    def read_file():
        with open("/etc/hostname") as f:
            return f.read()

    def connect():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 9))

    attempts = [
        ("read /etc/hostname", read_file),
        ("connect to 127.0.0.1:9", connect),
        ("resolve example.com", lambda: socket.getaddrinfo("example.com", 80)),
    ]
    for what, attempt in attempts:
        try:
            attempt()
            print(f"sandbox: {what}: allowed", file=sys.stderr)
        except Exception as e:  # the point is to show what the guest sees
            print(f"sandbox: {what}: refused ({type(e).__name__}: {e})", file=sys.stderr)


# componentize-py makes a new WitWorld for every call, so what must last
# from `configure` to `lines` lives here, at module level.
markers = ["TODO", "FIXME"]
severity = Severity.INFO


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Info:
        return Info(
            name="todo-python",
            version="0.1.0",
            description="reports TODO and FIXME markers in output (Python)",
            pipes=[],
            processes=[],
            filter=False,
        )

    def configure(self, settings) -> None:
        global markers, severity
        probe = False
        for key, value in settings:
            if key == "markers":
                words = [w.strip() for w in value.split(",") if w.strip()]
                if not words:
                    raise Err('markers: give at least one word, e.g. markers = "TODO,FIXME"')
                markers = words
            elif key == "severity":
                if value not in SEVERITIES:
                    raise Err(f"severity: {value!r} is not one of info, warning, error")
                severity = SEVERITIES[value]
            elif key == "probe_sandbox":
                probe = value == "true"
            else:
                raise Err(f"unknown setting {key!r} (known: markers, severity, probe_sandbox)")
        if probe:
            probe_sandbox()
        print(f"looking for {', '.join(markers)}", file=sys.stderr)

    def process_started(self, p) -> Output:
        return nothing()

    def process_ended(self, p) -> Output:
        return nothing()

    def tick(self, now_ms) -> Output:
        return nothing()

    def lines(self, batch) -> Output:
        findings = []
        data, start, length = batch.data, batch.start, batch.len
        for i in range(len(start)):
            text = data[start[i] : start[i] + length[i]].decode("utf-8", "replace")
            for marker in markers:
                at = text.find(marker)
                if at >= 0:
                    seq = batch.seq[i]
                    findings.append(
                        Finding(
                            kind=Kind.CUSTOM,
                            custom_kind="todo",
                            severity=severity,
                            process=batch.process[i],
                            message=text[at:].strip(),
                            first_seq=seq,
                            last_seq=seq,
                            file=None,
                            line=None,
                            column=None,
                            code=None,
                            url=None,
                            language=None,
                            fields=[],
                        )
                    )
                    break
        return Output(findings=findings, verdicts=[], tick_after_ms=None)
