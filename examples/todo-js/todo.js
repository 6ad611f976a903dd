// A brum detector in JavaScript, built with componentize-js: every printed
// line containing a marker (TODO and FIXME, or the words of the `markers`
// setting) becomes a `todo` finding.
//
// Settings, from `[plugin.todo-js]` in brum.toml:
//   markers = "TODO,FIXME,XXX"   the words to look for (comma-separated)
//   severity = "warning"         info (the default), warning or error
//   probe_sandbox = "true"       at configure, try an HTTP request and log
//                                what the sandbox answered (it is refused)
//
// Build: npm ci && npm run build, then copy todo_js.wasm into
// .brum/plugins/.
//
// The WIT world's exports are this module's exports, in camelCase; records
// are objects, enums are their names as strings, `option` is a value or
// undefined, and throwing a string from `configure` rejects the settings.

const SEVERITIES = ["info", "warning", "error"];
let markers = ["TODO", "FIXME"];
let severity = "info";
const decoder = new TextDecoder();

const nothing = () => ({ findings: [], verdicts: [], tickAfterMs: undefined });

export function describe() {
  return {
    name: "todo-js",
    version: "0.1.0",
    description: "reports TODO and FIXME markers in output (JavaScript)",
    pipes: [],
    processes: [],
    filter: false,
  };
}

// Each attempt fails with an error the script can catch: brum refuses every
// outgoing HTTP request.
async function probeSandbox() {
  try {
    await fetch("http://127.0.0.1:9/");
    console.error("sandbox: fetch http://127.0.0.1:9/: allowed");
  } catch (e) {
    console.error(`sandbox: fetch http://127.0.0.1:9/: refused (${e.name}: ${e.message})`);
  }
}

export async function configure(settings) {
  let probe = false;
  for (const [key, value] of settings) {
    if (key === "markers") {
      const words = value.split(",").map((w) => w.trim()).filter((w) => w.length > 0);
      if (words.length === 0) throw 'markers: give at least one word, e.g. markers = "TODO,FIXME"';
      markers = words;
    } else if (key === "severity") {
      if (!SEVERITIES.includes(value)) throw `severity: "${value}" is not one of info, warning, error`;
      severity = value;
    } else if (key === "probe_sandbox") {
      probe = value === "true";
    } else {
      throw `unknown setting "${key}" (known: markers, severity, probe_sandbox)`;
    }
  }
  if (probe) await probeSandbox();
  console.error(`looking for ${markers.join(", ")}`);
}

export function processStarted(_p) {
  return nothing();
}

export function processEnded(_p) {
  return nothing();
}

export function tick(_nowMs) {
  return nothing();
}

export function lines(batch) {
  const findings = [];
  const { data, start, len } = batch;
  for (let i = 0; i < start.length; i++) {
    const text = decoder.decode(data.subarray(start[i], start[i] + len[i]));
    for (const marker of markers) {
      const at = text.indexOf(marker);
      if (at >= 0) {
        const seq = batch.seq[i];
        findings.push({
          kind: "custom",
          customKind: "todo",
          severity,
          process: batch.process[i],
          message: text.slice(at).trim(),
          firstSeq: seq,
          lastSeq: seq,
          fields: [],
        });
        break;
      }
    }
  }
  return { findings, verdicts: [], tickAfterMs: undefined };
}
