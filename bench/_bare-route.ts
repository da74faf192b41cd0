/**
 * The peer of bench/records.ts: a bare Fastify server in its own process, with one route that
 * answers a GET with a small JSON document and echoes a POSTed JSON body with 201, so the
 * records benchmark can show what Palisade's auth, validation and storage cost on top of
 * Fastify itself. Prints `{"url": …}` on stdout once listening; exits on SIGTERM.
 */
import Fastify from 'fastify';

const RECORD = {
  id: '0190f5d2-7c4a-7000-8000-000000000000',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  data: { title: 'bench', count: 1, done: false, tags: ['a', 'b'] },
};

const app = Fastify({ logger: false });
app.get('/bare', async () => RECORD);
app.post('/bare', async (request, reply) => reply.code(201).send(request.body));

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
process.once('SIGTERM', () => void app.close());
