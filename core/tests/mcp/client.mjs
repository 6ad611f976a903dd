// Drives `brum mcp` with the official MCP TypeScript SDK over stdio:
// initialize, list tools, start a process that prints an error and a URL,
// find both through the tools, stop it. Prints one JSON object with what it
// saw; the Rust test (core/tests/it/mcp.rs) asserts on it.
//
//   node client.mjs BRUM_BINARY PROJECT_DIR
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [brum, project] = process.argv.slice(2);
const transport = new StdioClientTransport({ command: brum, args: ["mcp"], cwd: project, stderr: "inherit" });
const client = new Client({ name: "brum-test", version: "1.0.0" });
const seen = {};
const text = (r) => r.content.map((c) => c.text).join("\n");

try {
  await client.connect(transport);
  seen.server = client.getServerVersion();
  seen.protocol = transport._protocolVersion ?? null;
  const tools = await client.listTools();
  seen.tools = tools.tools.map((t) => t.name).sort();

  const started = await client.callTool({ name: "start_process", arguments: { name: "app" } });
  seen.started = text(started);
  seen.startedError = started.isError ?? false;

  const ready = await client.callTool({ name: "wait_for", arguments: { condition: "ready", process: "app", timeout_ms: 20000 } });
  seen.ready = ready.structuredContent;

  const waitedError = await client.callTool({
    name: "wait_for",
    arguments: { condition: "pattern", pattern: "TypeError", timeout_ms: 20000 },
  });
  seen.waitedError = waitedError.structuredContent;

  // give the errors plugin its quiet period to close the stack trace
  const errors = await (async () => {
    for (let i = 0; i < 50; i++) {
      const r = await client.callTool({ name: "list_errors", arguments: {} });
      if (r.structuredContent.errors.length > 0) return r;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return client.callTool({ name: "list_errors", arguments: {} });
  })();
  seen.errors = errors.structuredContent.errors;

  const urls = await client.callTool({ name: "list_urls", arguments: {} });
  seen.urls = urls.structuredContent.urls;

  const ps = await client.callTool({ name: "list_processes", arguments: {} });
  seen.psBefore = ps.structuredContent.processes.find((p) => p.name === "app")?.state;

  const logs = await client.callTool({ name: "search_logs", arguments: { query: "listening", process: "app" } });
  seen.search = logs.structuredContent.matches.map((m) => m.text);

  const resources = await client.listResources();
  seen.resources = resources.resources.map((r) => r.uri).sort();
  const res = await client.readResource({ uri: "brum://errors" });
  seen.errorsResource = JSON.parse(res.contents[0].text).length;

  const stopped = await client.callTool({ name: "stop_process", arguments: { name: "app" } });
  seen.stopped = text(stopped);
  const exited = await client.callTool({ name: "wait_for", arguments: { condition: "exit", process: "app", timeout_ms: 20000 } });
  seen.exited = exited.structuredContent;

  let unknown = null;
  try {
    await client.callTool({ name: "no_such_tool", arguments: {} });
  } catch (e) {
    unknown = e.code ?? String(e);
  }
  seen.unknownToolError = unknown;
  await client.close();
  console.log(JSON.stringify(seen));
} catch (e) {
  console.log(JSON.stringify({ failed: String(e && e.stack ? e.stack : e), seen }));
  process.exit(1);
}
