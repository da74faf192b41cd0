import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { installSecurityHeaders } from '../src/gateway/security-headers.ts';
import { type Platform, startPlatform } from '../src/index.ts';
import { TestApi } from './support/api.ts';
import { type BackendFixture, openBackend } from './support/backends.ts';
import { selfSignedCertificate } from './support/tls-certificate.ts';

const API_CSP = "default-src 'none'; frame-ancestors 'none'";

function assertApiHeaders(headers: Record<string, unknown>, where: string): void {
  assert.equal(headers['x-content-type-options'], 'nosniff', where);
  assert.equal(headers['x-frame-options'], 'DENY', where);
  assert.equal(headers['referrer-policy'], 'no-referrer', where);
  assert.equal(headers['content-security-policy'], API_CSP, where);
}

describe('security headers over plain HTTP', () => {
  let api: TestApi;
  let key: string;

  before(async () => {
    api = await TestApi.start('sqlite');
    key = (await api.tenant('headers')).key;
  });
  after(() => api.close());

  test('every API response, refusals included, carries them, and no HSTS without TLS', async () => {
    const replies = {
      'GET /healthz': await api.call('GET', '/healthz', undefined),
      'GET /v1/collections': await api.call('GET', '/v1/collections', key),
      'GET /v1/collections (no credential)': await api.call('GET', '/v1/collections', undefined),
      'GET /v1/nowhere': await api.call('GET', '/v1/nowhere', key),
      'POST /v1/collections/x/records (bad JSON)': await api.call(
        'POST',
        '/v1/collections/x/records',
        key,
        '{',
      ),
    };
    assert.deepEqual(
      Object.values(replies).map((r) => r.status),
      [200, 200, 401, 404, 400],
    );
    for (const [where, reply] of Object.entries(replies)) {
      assertApiHeaders(reply.headers, where);
      assert.equal(reply.headers['strict-transport-security'], undefined, where);
    }
  });
});

describe('security headers per route type', () => {
  const app = Fastify();

  before(async () => {
    installSecurityHeaders(app, { tls: true, hstsMaxAgeSeconds: 600 });
    app.get('/v1/thing', async () => ({ ok: true }));
    app.get('/t/:slug/login', async (_request, reply) =>
      reply.type('text/html').send('<form method="post"></form>'),
    );
    app.get('/t/:slug/own-policy', async (_request, reply) =>
      reply.header('content-security-policy', "default-src 'none'").send('x'),
    );
    app.get('/t/:slug/raw', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/html' });
      reply.raw.end('<p>written to the raw response</p>');
    });
    await app.ready();
  });
  after(() => app.close());

  const get = async (url: string): Promise<IncomingHttpHeaders> =>
    (await app.inject({ method: 'GET', url })).headers as IncomingHttpHeaders;

  test('the API gets default-src none; the pages under /t/ get self without inline script', async () => {
    assertApiHeaders(await get('/v1/thing'), '/v1/thing');
    for (const url of ['/t/acme/login', '/t/acme/raw']) {
      const headers = await get(url);
      const csp = String(headers['content-security-policy']);
      assert.match(csp, /^default-src 'self'; script-src 'self'; /, url);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url);
      assert.match(csp, /frame-ancestors 'none'/, url);
      assert.equal(headers['x-frame-options'], 'DENY', url);
      assert.equal(headers['x-content-type-options'], 'nosniff', url);
      assert.equal(headers['strict-transport-security'], 'max-age=600', url);
    }
  });

  test('a route may set a stricter policy of its own', async () => {
    assert.equal(
      (await get('/t/acme/own-policy'))['content-security-policy'],
      "default-src 'none'",
    );
  });
});

describe('HSTS when serving TLS', () => {
  let fixture: BackendFixture;
  let platform: Platform;
  let ca: Buffer;

  before(async () => {
    fixture = await openBackend('sqlite');
    const { cert, key } = selfSignedCertificate(fixture.settings.data);
    ca = readFileSync(cert);
    platform = await startPlatform({ ...fixture.settings, tlsCert: cert, tlsKey: key });
  });
  after(async () => {
    await platform.close();
    await fixture.cleanup();
  });

  test('an HTTPS response carries Strict-Transport-Security with the configured max-age', async () => {
    const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      https
        .get(`${platform.url}/healthz`, { ca, servername: 'localhost', agent: false }, (res) => {
          res.resume();
          resolve(res.headers);
        })
        .on('error', reject);
    });
    assert.equal(headers['strict-transport-security'], 'max-age=31536000');
    assertApiHeaders(headers, 'https /healthz');
  });
});
