// The NodeJS counterpart of userland/src/bin/httpd.rs for boot/bench/http.sh:
// `node boot/bench/httpd.js PORT [DIR]` listens on 127.0.0.1:PORT and answers GET and HEAD
// the same way — `/hello` with "Hello, world!\n" as text/plain, and the files under DIR (a
// directory serves its index.html; `..` is 403, missing is 404, other known methods 405 with
// Allow, unknown ones 501). No logging: the benchmark measures the server, not its log.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const HELLO_BODY = Buffer.from('Hello, world!\n');
// httpd closes idle kept-alive connections after 15 s; Node's default is 5 s.
const IDLE_TIMEOUT_MS = 15000;
const KNOWN_METHODS = new Set(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']);
const TYPES = {
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', css: 'text/css',
  js: 'text/javascript', json: 'application/json', txt: 'text/plain; charset=utf-8',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', svg: 'image/svg+xml',
  wasm: 'application/wasm',
};
const REASONS = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 500: 'Internal Server Error', 501: 'Not Implemented' };

const port = Number(process.argv[2]);
const root = process.argv[3];
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node httpd.js PORT [DIR]');
  process.exit(2);
}

function send(res, status, type, body, headOnly, extra = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.length, ...extra });
  res.end(headOnly ? undefined : body);
}

function fail(res, status, headOnly) {
  const body = Buffer.from(`${status} ${REASONS[status]}\n`);
  const extra = status === 405 ? { Allow: 'GET, HEAD' } : {};
  send(res, status, 'text/plain', body, headOnly, extra);
}

/// The file a request path names under root, or an HTTP status.
function resolve(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return 400;
  }
  if (decoded.includes('\0')) return 400;
  const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return 403;
  return path.join(root, ...segments);
}

function serveFile(res, file, headOnly, triedIndex) {
  fs.stat(file, (err, stat) => {
    if (err) return fail(res, err.code === 'EACCES' ? 403 : 404, headOnly);
    if (stat.isDirectory() && !triedIndex) {
      return serveFile(res, path.join(file, 'index.html'), headOnly, true);
    }
    if (!stat.isFile()) return fail(res, 404, headOnly);
    const ext = path.extname(file).slice(1).toLowerCase();
    res.writeHead(200, {
      'Content-Type': TYPES[ext] || 'application/octet-stream',
      'Content-Length': stat.size,
    });
    if (headOnly) return res.end();
    fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
}

const server = http.createServer((req, res) => {
  const headOnly = req.method === 'HEAD';
  if (req.method !== 'GET' && !headOnly) {
    return fail(res, KNOWN_METHODS.has(req.method) ? 405 : 501, false);
  }
  const urlPath = req.url.split(/[?#]/, 1)[0];
  if (urlPath === '/hello') return send(res, 200, 'text/plain', HELLO_BODY, headOnly);
  if (!root) return fail(res, 404, headOnly);
  const file = resolve(urlPath);
  if (typeof file === 'number') return fail(res, file, headOnly);
  serveFile(res, file, headOnly, false);
});
server.keepAliveTimeout = IDLE_TIMEOUT_MS;
server.listen(port, '127.0.0.1');
