// Streaming upstream for the bench: every POST gets the same 100 SSE content chunks, a usage
// chunk and [DONE]. Headers and the first chunk go out in one write, then one chunk every
// CHUNK_DELAY_MS (default 1) so a proxy that buffers shows up in time-to-first-byte.
// Usage: node sse-upstream.mjs PORT [CHUNKS] [CHUNK_DELAY_MS]   (binds 127.0.0.1 only)
import http from 'node:http';

const port = Number(process.argv[2] ?? 18091);
const chunks = Number(process.argv[3] ?? 100);
const delay = Number(process.argv[4] ?? 1);
const event = (i) => `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"grok-4.3","choices":[{"index":0,"delta":{"content":"tok${i} "},"finish_reason":null}]}\n\n`;
const tail = 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"grok-4.3","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":100,"total_tokens":112}}\n\ndata: [DONE]\n\n';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      res.write(event(i++));
      if (i < chunks) setTimeout(next, delay); else res.end(tail);
    };
    next();
  });
});
server.keepAliveTimeout = 120000;
server.listen(port, '127.0.0.1');
