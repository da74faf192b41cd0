import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { test } from 'node:test';
import { lockoutMs } from '../src/users/lockout.ts';
import {
  hashPassword,
  needsRehash,
  passwordHashParams,
  unmatchableHash,
  verifyPassword,
} from '../src/users/password-hash.ts';
import { checkPasswordPolicy } from '../src/users/password-policy.ts';

/** A hash as an older, cheaper configuration would have stored it. */
function legacyHash(password: string, logN: number): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N: 2 ** logN, r: 8, p: 1 });
  const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${logN},r=8,p=1$${b64(salt)}$${b64(key)}`;
}

test('the lock doubles from the threshold on, up to the cap', () => {
  const policy = {
    threshold: 5,
    baseMs: 60_000,
    maxMs: 3_600_000,
    windowMs: 86_400_000,
    namesMax: 100,
  };
  assert.deepEqual(
    Array.from({ length: 13 }, (_, i) => lockoutMs(policy, i + 1)),
    [
      0, 0, 0, 0, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000,
      3_600_000,
    ],
  );
  assert.equal(lockoutMs(policy, 10_000), 3_600_000, 'no overflow on a long attack');
});

test('a hash names its cost; a cheaper stored hash still verifies and asks to be re-hashed', async () => {
  const current = await hashPassword('a long enough passphrase');
  assert.deepEqual(passwordHashParams(current), { N: 2 ** 17, r: 8, p: 1 });
  assert.equal(needsRehash(current), false);
  assert.equal(await verifyPassword('a long enough passphrase', current), true);
  assert.equal(await verifyPassword('a long enough passphrasf', current), false);
  const old = legacyHash('a long enough passphrase', 14);
  assert.equal(await verifyPassword('a long enough passphrase', old), true);
  assert.equal(needsRehash(old), true);
});

test('a malformed or tampered hash matches nothing (and a huge cost is not attempted)', async () => {
  const good = legacyHash('x'.repeat(12), 14);
  const unmatchable = unmatchableHash();
  for (const stored of [
    '',
    'plaintext',
    good.replace('ln=14', 'ln=31'),
    good.replace('ln=14', 'ln=0'),
    good.replace('ln=14,r=8', 'ln=20,r=99'),
    good.replace('p=1', 'p=99'),
    good.replace(/\$[^$]+$/, '$'),
    unmatchable,
  ]) {
    assert.equal(await verifyPassword('x'.repeat(12), stored), false, stored);
    if (stored !== unmatchable)
      assert.equal(passwordHashParams(stored), undefined, `${stored} is not taken as a cost`);
  }
});

test('the password policy: at least 12 characters (not UTF-16 units), at most 256, not the email', () => {
  const code = (password: string, email = 'ada@example.com') => {
    try {
      checkPasswordPolicy(password, email);
      return 'ok';
    } catch (error) {
      return (error as { code: string }).code;
    }
  };
  assert.equal(code('eleven char'), 'PALISADE_PASSWORD_REJECTED');
  assert.equal(code('twelve chars'), 'ok');
  assert.equal(
    code('🔐'.repeat(11)),
    'PALISADE_PASSWORD_REJECTED',
    '11 characters, 22 UTF-16 units',
  );
  assert.equal(code('x'.repeat(257)), 'PALISADE_PASSWORD_REJECTED');
  assert.equal(code(' Ada@Example.com '), 'PALISADE_PASSWORD_REJECTED');
});
