const http = require('http');
const crypto = require('crypto');
const srv = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const p = u.pathname;
  if (p === '/hello') {
    const body = 'hello from ' + req.headers.host + ' for ' + req.headers['x-forwarded-for'] + ' via ' + req.headers['x-forwarded-host'];
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (p === '/chunked') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    let i = 0;
    const t = setInterval(() => { res.write('chunk ' + i + '\n'); if (++i === 5) { clearInterval(t); res.end(); } }, 5);
  } else if (p === '/sse') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write('data: first\n\n');
    srv.sse = res;
  } else if (p === '/sse-end') {
    if (srv.sse) { srv.sse.write('data: last\n\n'); srv.sse.end(); }
    res.end('ok');
  } else if (p === '/big') {
    const total = Number(u.searchParams.get('bytes') || 1048576);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': total });
    const chunk = Buffer.alloc(65536, 'x');
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
  } else if (p === '/echo') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    req.pipe(res);
  } else if (p === '/hang') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 1000 });
    res.write('partial...');
    console.log('hanging');
  } else if (p.startsWith('/static/') && !p.includes('..')) {
    // files of ./static, as a dev server serves sources by path
    const file = require('path').join(process.cwd(), decodeURIComponent(p.slice(1)));
    require('fs').readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end('no such file'); return; }
      const type = file.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript';
      const headers = { 'Content-Type': type };
      if (file.includes('csp')) headers['Content-Security-Policy'] = "script-src 'self'; connect-src 'none'";
      res.writeHead(200, headers);
      res.end(data);
    });
  } else if (p === '/maps/huge.js.map') {
    // a source map that never ends
    res.on('error', () => {});
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const chunk = Buffer.alloc(65536, ' ');
    let open = true;
    res.on('close', () => { open = false; });
    const pump = () => { while (open) { if (!res.write(chunk)) { res.once('drain', pump); return; } } };
    pump();
  } else if (p === '/maps/slow.js.map') {
    // a source map that starts and never finishes
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 100 });
    res.write('{"version":3,');
  } else if (p === '/flaky') {
    srv.flaky = (srv.flaky || 0) + 1;
    res.writeHead(srv.flaky === 1 ? 500 : 200, { 'Content-Type': 'text/plain' });
    res.end(srv.flaky === 1 ? 'broken' : 'fixed');
  } else if (p === '/500') {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('boom');
  } else {
    res.writeHead(404); res.end('not found');
  }
});
srv.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const op = buf[0] & 15, masked = buf[1] & 128; let len = buf[1] & 127, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      if (buf.length < off + (masked ? 4 : 0) + len) return;
      const mask = masked ? buf.subarray(off, off + 4) : null; off += masked ? 4 : 0;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
      buf = buf.subarray(off + len);
      if (op === 8) { socket.end(Buffer.from([0x88, 0])); return; }
      const head = len < 126 ? Buffer.from([0x80 | op, len]) : Buffer.from([0x80 | op, 126, len >> 8, len & 255]);
      socket.write(Buffer.concat([head, payload]));
    }
  });
});
srv.keepAliveTimeout = 60000;
srv.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log('  Local:   http://localhost:' + srv.address().port + '/'));
