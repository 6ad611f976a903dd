"""Drives `brum mcp` with the official MCP Python SDK over stdio: the agent
workflow end to end (start, wait, restart, stop, read what broke), schema
violations, output validation, cancellation, and the end of stdin.

    python client.py BRUM_BINARY PROJECT_DIR

Asserts as it goes; prints one JSON object with what it saw and measured.
The Rust test (core/tests/it/mcp.rs) runs it.
"""

import asyncio
import json
import sys
import time

import anyio
import jsonschema
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

BRUM, PROJECT = sys.argv[1], sys.argv[2]
seen = {}


def sc(r):
    assert not r.is_error, r
    return r.structured_content


async def invalid(session, tool, args, arg):
    """A call the schema forbids: -32602 naming the argument."""
    try:
        await session.call_tool(tool, args)
    except MCPError as e:
        assert e.code == -32602, (tool, args, e.code, e.message)
        assert f"`{arg}`" in e.message, (tool, args, e.message)
        return e.message
    raise AssertionError(f"{tool} {args} was accepted")


async def sdk_workflow():
    params = StdioServerParameters(command=BRUM, args=["mcp"], cwd=PROJECT)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        seen["protocol"] = init.protocol_version
        tools = (await session.list_tools()).tools
        schemas = {t.name: t.output_schema for t in tools}
        seen["tools"] = sorted(schemas)
        assert all(s is not None for s in schemas.values()), "every tool declares an outputSchema"

        def check(tool, r):
            # the SDK validated it already; check again, and that no
            # transport field of the control socket leaks through
            jsonschema.validate(r.structured_content, schemas[tool])
            assert "id" not in r.structured_content and "ok" not in r.structured_content, r.structured_content
            return r.structured_content

        # a fast process: its line is printed before wait_for is called
        t0 = time.monotonic()
        started = await session.call_tool("start_process", {"name": "fast"})
        check("start_process", started)
        seen["started_note"] = started.content[0].text
        await anyio.sleep(0.3)
        t1 = time.monotonic()
        w = check("wait_for", await session.call_tool(
            "wait_for", {"condition": "pattern", "process": "fast", "pattern": "fast ran", "timeout_ms": 5000}))
        seen["fast_wait_ms"] = round((time.monotonic() - t1) * 1000, 1)
        assert w["met"] is True and w["waited_ms"] < 1000, w
        seen["fast"] = w

        # the figure: start_process, then wait_for on a process that is
        # ready as soon as it starts (probe-less: its first line), back to back
        t0 = time.monotonic()
        check("start_process", await session.call_tool("start_process", {"name": "instant"}))
        w = check("wait_for", await session.call_tool(
            "wait_for", {"condition": "ready", "process": "instant", "pattern": "instant up", "timeout_ms": 5000}))
        assert w["met"] is True, w
        seen["start_to_ready_ms"] = round((time.monotonic() - t0) * 1000, 1)

        # a server: ready when it prints its URL
        check("start_process", await session.call_tool("start_process", {"name": "web"}))
        w = check("wait_for", await session.call_tool("wait_for", {"condition": "ready", "process": "web", "timeout_ms": 10000}))
        assert w["met"] is True and w["run"] == 1, w
        t2 = time.monotonic()
        again = check("wait_for", await session.call_tool("wait_for", {"condition": "ready", "process": "web"}))
        seen["already_ready_ms"] = round((time.monotonic() - t2) * 1000, 1)
        assert again["met"] is True and again["run"] == 1, again

        # restarted: not ready until the new run prints its URL (0.5 s in)
        check("restart_process", await session.call_tool("restart_process", {"name": "web"}))
        w = check("wait_for", await session.call_tool("wait_for", {"condition": "ready", "process": "web", "timeout_ms": 10000}))
        assert w["met"] is True and w["run"] == 2 and w["waited_ms"] >= 300, w
        seen["restarted"] = w
        urls = check("list_urls", await session.call_tool("list_urls", {}))["urls"]
        assert [u["url"] for u in urls if u["process"] == "web"] == ["http://127.0.0.1:5998/"], urls
        rows = check("list_processes", await session.call_tool("list_processes", {}))["processes"]
        web = next(r for r in rows if r["name"] == "web")
        assert web["run"] == 2 and web["urls"] == ["http://127.0.0.1:5998/"], web

        # stopped: its URL is gone with its run
        check("stop_process", await session.call_tool("stop_process", {"name": "web"}))
        w = check("wait_for", await session.call_tool("wait_for", {"condition": "url", "process": "web", "timeout_ms": 1000}))
        assert w["met"] is False, w
        seen["stopped_url"] = w

        # what the schemas declare is enforced, with the real bounds
        seen["rejected"] = [
            await invalid(session, "get_logs", {"process": "fast", "last": 0}, "last"),
            await invalid(session, "search_logs", {"query": ""}, "query"),
            await invalid(session, "search_logs", {"query": "x", "limit": 0}, "limit"),
            await invalid(session, "wait_for", {"condition": "url", "timeout_ms": 0}, "timeout_ms"),
            await invalid(session, "wait_for", {"condition": "soon"}, "condition"),
            await invalid(session, "list_urls", {"colour": "red"}, "colour"),
        ]
        assert "from 1 to 1000" in seen["rejected"][0], seen["rejected"]
        nope = await session.call_tool("list_errors", {"process": "nope"})
        assert nope.is_error and "unknown process" in nope.content[0].text, nope
        logs = check("get_logs", await session.call_tool("get_logs", {"process": "fast", "last": 5}))
        assert any(line["bytes"] and "\\xff" in line["text"] for line in logs["lines"]), logs
        check("search_logs", await session.call_tool("search_logs", {"query": "fast ran"}))
        check("list_errors", await session.call_tool("list_errors", {"include_resolved": True}))
        check("list_scripts", await session.call_tool("list_scripts", {}))
        try:
            await session.read_resource("brum://logs/nope")
            raise AssertionError("an unknown log resource was read")
        except MCPError as e:
            assert e.code == -32602, e
        text = (await session.read_resource("brum://logs/fast")).contents[0].text
        assert "fast ran" in text and "\\xff" in text, text

        # cancelled by the client: the call ends, the session goes on
        t3 = time.monotonic()
        with anyio.move_on_after(0.5):
            await session.call_tool("wait_for", {"condition": "pattern", "pattern": "never printed", "timeout_ms": 60000})
            raise AssertionError("the wait was not cancelled")
        assert time.monotonic() - t3 < 2
        check("list_processes", await session.call_tool("list_processes", {}))


async def raw_end_of_input():
    """Without the SDK's SIGTERM: a pending wait_for, a cancelled one that
    stops its progress notifications, then stdin closed."""
    p = await asyncio.create_subprocess_exec(BRUM, "mcp", cwd=PROJECT, stdin=asyncio.subprocess.PIPE,
                                             stdout=asyncio.subprocess.PIPE)

    def send(msg):
        p.stdin.write((json.dumps(msg) + "\n").encode())

    async def recv(timeout):
        line = await asyncio.wait_for(p.stdout.readline(), timeout)
        return json.loads(line)

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
    assert (await recv(10))["id"] == 1
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    wait = {"condition": "pattern", "pattern": "never printed", "timeout_ms": 300000}
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
          "params": {"name": "wait_for", "arguments": wait, "_meta": {"progressToken": "w2"}}})
    note = await recv(5)
    assert note["method"] == "notifications/progress" and note["params"]["progressToken"] == "w2", note
    send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "test"}})
    await asyncio.sleep(0.1)
    send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
    assert (await recv(5))["id"] == 3
    try:
        late = await recv(2.5)
        raise AssertionError(f"the cancelled wait went on: {late}")
    except asyncio.TimeoutError:
        pass
    send({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "wait_for", "arguments": wait}})
    await asyncio.sleep(0.3)
    t = time.monotonic()
    p.stdin.close()
    code = await asyncio.wait_for(p.wait(), 5)
    seen["eof_exit_ms"] = round((time.monotonic() - t) * 1000, 1)
    assert code == 0, code
    assert seen["eof_exit_ms"] < 1000, seen


try:
    anyio.run(sdk_workflow)
    asyncio.run(raw_end_of_input())
except BaseException as e:  # noqa: BLE001 - report whatever failed
    import traceback

    print(json.dumps({"failed": "".join(traceback.format_exception(e)), "seen": seen}))
    sys.exit(1)
print(json.dumps(seen))
