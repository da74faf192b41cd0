import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ADMIN = `pa_test_${'x'.repeat(40)}`;

/** A platform with its own JSON log on stdout: create a user, open their invitation link. */
const SCRIPT = `
import { loadSettings, startPlatform } from './src/index.ts';
const settings = loadSettings({
  flags: { data: process.env.DATA, listen: '127.0.0.1:0', logLevel: 'info', adminToken: '${ADMIN}', mqtt: 'off' },
  env: {},
  configFile: null,
});
const platform = await startPlatform(settings, { listen: false });
const call = async (method, url, token, payload) => {
  const headers = token === undefined ? {} : { authorization: 'Bearer ' + token };
  return platform.http.inject({ method, url, headers, payload });
};
const tenant = (await call('POST', '/v1/platform/tenants', '${ADMIN}', { slug: 'acme', name: 'Acme' })).json();
const key = (await call('POST', '/v1/platform/tenants/' + tenant.id + '/api-keys', '${ADMIN}', { name: 'k' })).json();
const user = (await call('POST', '/v1/users', key.secret, { email: 'ada@example.com', name: 'Ada' })).json();
const page = await call('GET', user.invitation.link);
process.stderr.write(JSON.stringify({ link: user.invitation.link, status: page.statusCode }) + '\\n');
await platform.close();
`;

test('an invitation link is logged with its token redacted', async () => {
  const data = mkdtempSync(join(tmpdir(), 'palisade-logs-'));
  try {
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@palisade/source', '--input-type=module', '-e', SCRIPT],
      { cwd, env: { ...process.env, DATA: data }, timeout: 120_000 },
    );
    const { link, status } = JSON.parse(stderr.trim().split('\n').at(-1)!);
    assert.equal(status, 200);
    const token = link.split('/').at(-1);
    assert.ok(stdout.includes('/t/acme/invite/[redacted]'), 'the request is logged');
    assert.ok(!stdout.includes(token), 'but never its token');
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
