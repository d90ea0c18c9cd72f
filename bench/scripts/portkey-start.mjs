// Starts the Portkey gateway (node build) bound to 127.0.0.1: its server listens on all
// interfaces by default, so listen() is pinned to loopback before the gateway is imported.
// Usage: NODE_ENV=production node portkey-start.mjs /path/to/start-server.js --port=N --headless
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    const callback = args.find((a) => typeof a === 'function');
    return callback ? listen.call(this, Number(args[0]), '127.0.0.1', callback) : listen.call(this, Number(args[0]), '127.0.0.1');
  }
  if (args[0] && typeof args[0] === 'object') {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
// Portkey 1.15.2 on node appends x-portkey-* headers to the upstream's fetch() Response, whose
// headers are immutable, so every streamed answer fails with "TypeError: immutable"
// (Portkey-AI/gateway issues 1389 and 1550). Streamed responses are re-wrapped with mutable
// headers; the body stream is passed on untouched. Non-streamed responses are not touched.
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const response = await realFetch(...args);
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return response;
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) });
};
const entry = process.argv[2];
process.argv.splice(2, 1);
console.clear = () => {};
await import(pathToFileURL(entry).href);
