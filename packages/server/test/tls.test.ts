/**
 * HTTPS: with `tlsCert`/`tlsKey` the API speaks TLS, prefers the hybrid post-quantum group
 * X25519MLKEM768 and falls back to X25519; `/healthz` reports the group of the connection,
 * which must be the one the client itself saw negotiated.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import { type Platform, startPlatform } from '../src/index.ts';
import { type BackendFixture, openBackend } from './support/backends.ts';
import { selfSignedCertificate } from './support/tls-certificate.ts';

/** GET /healthz over TLS offering `groups`; the server's answer and the client's own view. */
function healthz(
  url: string,
  ca: Buffer,
  groups?: string,
): Promise<{
  body: { tls: { group: string; protocol: string; postQuantum: boolean } };
  seen: string;
}> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `${url}/healthz`,
      {
        ca,
        servername: 'localhost',
        agent: false,
        ...(groups === undefined ? {} : { ecdhCurve: groups }),
      },
      (response) => {
        const seen = (response.socket as TLSSocket).getEphemeralKeyInfo() as { name?: string };
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve({ body: JSON.parse(text), seen: seen.name ?? '' }));
      },
    );
    request.on('error', reject);
  });
}

describe('HTTPS with a hybrid post-quantum key exchange', () => {
  let fixture: BackendFixture;
  let platform: Platform;
  let ca: Buffer;
  const logged: string[] = [];

  before(async () => {
    fixture = await openBackend('sqlite');
    const { cert, key } = selfSignedCertificate(fixture.settings.data);
    ca = readFileSync(cert);
    const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(line) });
    platform = await startPlatform({ ...fixture.settings, tlsCert: cert, tlsKey: key }, { logger });
  });
  after(async () => {
    await platform.close();
    await fixture.cleanup();
  });

  test('the server URL is https, and the log says so', () => {
    assert.match(platform.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const listening = logged
      .map((line) => String(JSON.parse(line).msg))
      .filter((msg) => /listening/i.test(msg));
    assert.deepEqual(listening, [`Server listening at ${platform.url}`]);
  });

  test('a client that offers X25519MLKEM768 gets it, and /healthz says so', async () => {
    const { body, seen } = await healthz(platform.url, ca);
    assert.equal(seen, 'X25519MLKEM768');
    assert.deepEqual(body.tls, { protocol: 'TLSv1.3', group: 'X25519MLKEM768', postQuantum: true });
  });

  test('a client that sends key shares for both gets the hybrid (server preference)', async () => {
    const { body, seen } = await healthz(platform.url, ca, '*X25519:*X25519MLKEM768');
    assert.equal(seen, 'X25519MLKEM768');
    assert.equal(body.tls.group, 'X25519MLKEM768');
  });

  test('a client that supports the hybrid but sent a P-256 share gets the hybrid after a retry', async () => {
    const { body, seen } = await healthz(platform.url, ca, 'P-256:X25519MLKEM768');
    assert.equal(seen, 'X25519MLKEM768');
    assert.equal(body.tls.group, 'X25519MLKEM768');
  });

  test('a client without the hybrid falls back to X25519', async () => {
    const { body, seen } = await healthz(platform.url, ca, 'X25519');
    assert.equal(seen, 'X25519');
    assert.deepEqual(body.tls, { protocol: 'TLSv1.3', group: 'X25519', postQuantum: false });
  });

  test('plain HTTP is not served on the TLS port', async () => {
    await assert.rejects(fetch(platform.url.replace('https:', 'http:')));
  });
});
