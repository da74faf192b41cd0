import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TenantContext } from '../src/tenancy/index.ts';

test('a TenantContext cannot be made outside authentication', () => {
  const tenant = {
    id: 'x',
    slug: 'x',
    name: 'x',
    plan: 'free',
    status: 'active' as const,
    shard: 's1',
    createdAt: '',
    updatedAt: '',
  };
  const construct = TenantContext as unknown as new (...args: unknown[]) => TenantContext;
  assert.throws(
    () => new construct(Symbol('palisade.tenant-context'), tenant, { kind: 'api-key', id: 'k' }),
    TypeError,
  );
});

test('only the credential checks import issueTenantContext', () => {
  const src = fileURLToPath(new URL('../src', import.meta.url));
  const importers = execFileSync('grep', ['-rlE', 'import \\{[^}]*issueTenantContext', src], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((path) => path.slice(src.length + 1))
    .sort();
  assert.deepEqual(importers, [
    'control/credential-verifier.ts',
    'devices/device-authenticator.ts',
    'edge/node-authentication.ts',
    'users/user-authenticator.ts',
  ]);
});
