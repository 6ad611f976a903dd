// Prints what a Vite dev server prints, then a few hot updates.
const port = process.env.PORT || 5173;
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[22m` : s);
console.log("");
console.log(`  VITE v5.4.0  ready in 312 ms`);
console.log("");
console.log(`  ➜  Local:   http://localhost:${bold(port)}/`);
console.log("  ➜  Network: use --host to expose");
let n = 0;
const t = setInterval(() => {
  n += 1;
  console.log(`${new Date().toLocaleTimeString()} [vite] hmr update /src/App.tsx (x${n})`);
  if (n === 4) {
    clearInterval(t);
  }
}, 600);
