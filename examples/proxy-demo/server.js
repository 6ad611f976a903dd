// A stand-in dev server: serves index.html and src/ by path, an API that
// answers /api/items and fails /api/stats, and prints its URL as Vite does.
const http = require("http");
const fs = require("fs");
const path = require("path");
const port = Number(process.env.PORT || 5174);
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript" };

http
  .createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/api/items") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify([{ name: "first" }]));
    }
    if (url.pathname === "/api/stats") {
      console.error(`GET /api/stats: Error: the stats table is missing`);
      res.writeHead(500, { "Content-Type": "text/plain" });
      return res.end("stats table missing");
    }
    const file = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    if (file.includes("..")) {
      res.writeHead(400);
      return res.end();
    }
    fs.readFile(path.join(__dirname, file), (err, data) => {
      if (err) {
        res.writeHead(404);
        return res.end("not found");
      }
      res.writeHead(200, { "Content-Type": types[path.extname(file)] || "application/octet-stream" });
      res.end(data);
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`  ➜  Local:   http://localhost:${port}/`));
