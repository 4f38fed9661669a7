/**
 * The HTTP baseline: a hono app on @hono/node-server (the server's own stack) whose POST
 * routes read the whole body and answer 204, and whose GET routes answer 204 at once, except
 * GET /bytes/<n>, which answers n bytes held in memory with the headers of a full tile
 * (octet-stream, immutable, a strong ETag): the floor for sending a body that size on this
 * stack and machine, which a bodiless 204 is not.
 * `node noop-server.js` prints "listening on http://127.0.0.1:<port> " like the real server.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.post('*', async (c) => {
  await c.req.arrayBuffer();
  return c.body(null, 204);
});
const held = new Map<number, Uint8Array<ArrayBuffer>>();
app.get('/bytes/:n{[0-9]{1,7}}', (c) => {
  const n = Number(c.req.param('n'));
  const body = held.get(n) ?? new Uint8Array(n).fill(0x5a);
  held.set(n, body);
  return c.body(body, 200, {
    'Content-Type': 'application/octet-stream',
    'Cache-Control': 'public, max-age=31536000, immutable',
    ETag: '"same-bytes-from-memory"',
  });
});
app.get('*', (c) => c.body(null, 204));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  console.log(`noop: listening on http://127.0.0.1:${info.port} (pid ${process.pid})`);
});
process.on('SIGTERM', () => process.exit(0));
