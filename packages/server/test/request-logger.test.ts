import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import pino from 'pino';
import { requestLogger } from '../src/gateway/request-logger.ts';

/** A Fastify app whose logger writes JSON lines into `lines`, at `level`. */
async function appLoggingAt(level: string, lines: Record<string, unknown>[]) {
  const logger = pino(
    { level },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  const app = Fastify({ loggerInstance: logger, childLoggerFactory: requestLogger });
  app.get('/quiet', async (request) => {
    request.log.info('an info line');
    return { ok: true };
  });
  app.get('/loud', async (request) => {
    request.log.warn({ detail: 'x' }, 'a warning');
    return { ok: true };
  });
  app.get('/secret/:token', {
    logSerializers: {
      req: (req: { url?: string }) => ({ url: req.url?.replace(/[^/]+$/, '***') }),
    },
    handler: async (request) => {
      request.log.warn({ req: request.raw }, 'with a serializer');
      return { ok: true };
    },
  });
  app.get('/verbose', {
    logLevel: 'debug',
    handler: async (request) => {
      request.log.debug('a debug line');
      return { ok: true };
    },
  });
  await app.ready();
  return app;
}

test('below the level, a request writes nothing; at it, lines carry the request id', async () => {
  const lines: Record<string, unknown>[] = [];
  const app = await appLoggingAt('warn', lines);
  await app.inject('/quiet');
  assert.equal(lines.length, 0);
  await app.inject('/loud');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.msg, 'a warning');
  assert.equal(lines[0]!.detail, 'x');
  assert.match(String(lines[0]!.reqId), /^req-/);
  await app.close();
});

test('at info, Fastify logs each request and response with the same request id', async () => {
  const lines: Record<string, unknown>[] = [];
  const app = await appLoggingAt('info', lines);
  await app.inject('/quiet');
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['incoming request', 'an info line', 'request completed'],
  );
  assert.equal(new Set(lines.map((l) => l.reqId)).size, 1);
  await app.close();
});

test("a route's log serializers and its own level still apply", async () => {
  const lines: Record<string, unknown>[] = [];
  const app = await appLoggingAt('warn', lines);
  await app.inject('/secret/pk_live_do_not_log');
  assert.deepEqual(lines[0]!.req, { url: '/secret/***' });
  assert.doesNotMatch(JSON.stringify(lines), /pk_live_do_not_log/);
  lines.length = 0;
  await app.inject('/verbose');
  assert.ok(lines.some((l) => l.msg === 'a debug line'));
  await app.close();
});
