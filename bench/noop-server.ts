/**
 * The HTTP baseline: a hono app on @hono/node-server (the server's own stack) whose POST
 * routes read the whole body and answer 204, and whose GET routes answer 204 at once.
 * `node noop-server.js` prints "listening on http://127.0.0.1:<port> " like the real server.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.post('*', async (c) => {
  await c.req.arrayBuffer();
  return c.body(null, 204);
});
app.get('*', (c) => c.body(null, 204));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  console.log(`noop: listening on http://127.0.0.1:${info.port} (pid ${process.pid})`);
});
process.on('SIGTERM', () => process.exit(0));
