import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import {
  BlindIndexKey,
  CryptoError,
  DataKey,
  DataKeyCache,
  DataKeyring,
  decryptField,
  LocalKms,
  loadMasterKey,
  MASTER_KEY_ENV,
  MasterKey,
  unwrapDataKey,
  wrapDataKey,
  XWingSecretKey,
} from '../src/index.ts';

/** Renderings of `bytes` that must never appear in any output. */
function fingerprints(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  return [
    b.toString('hex'),
    b.subarray(0, 8).toString('hex'),
    [...b.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' '),
    b.toString('base64').slice(0, 12),
    b.toString('base64url').slice(0, 12),
    [...b.subarray(0, 4)].join(', '),
    [...b.subarray(0, 4)].join(','),
  ];
}

function assertNoLeak(output: string, bytes: Uint8Array, what: string): void {
  for (const needle of fingerprints(bytes)) {
    assert.ok(!output.toLowerCase().includes(needle.toLowerCase()), `${what} reveals key bytes`);
  }
}

function renderings(value: unknown): string[] {
  return [
    inspect(value),
    inspect(value, { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true }),
    inspect(value, { customInspect: false, showHidden: true, depth: Number.POSITIVE_INFINITY }),
    inspect({ nested: [value] }, { depth: Number.POSITIVE_INFINITY }),
    format('%o %O %s %j', value, value, value, value),
    JSON.stringify(value),
    JSON.stringify({ nested: value }),
    String(value),
    `${value}`,
    Object.keys(value as object).join(','),
  ];
}

describe('key objects never reveal key bytes', () => {
  const dataBytes = randomBytes(32);
  const indexBytes = randomBytes(32);
  const masterBytes = randomBytes(32);
  const seed = randomBytes(32);
  const dataKey = DataKey.fromBytes('fields', 1, dataBytes);
  const xwing = XWingSecretKey.fromSeed(seed);
  const master = MasterKey.fromBytes(masterBytes);
  const cache = new DataKeyCache({ maxEntries: 2, ttlMs: 1000 });
  cache.set('t', DataKey.fromBytes('fields', 2, dataBytes));

  const cases: [string, unknown, Uint8Array][] = [
    ['DataKey', dataKey, dataBytes],
    ['BlindIndexKey', BlindIndexKey.fromBytes(indexBytes), indexBytes],
    ['MasterKey', master, masterBytes],
    ['XWingSecretKey', xwing, seed],
    ['DataKeyring', new DataKeyring([dataKey]), dataBytes],
    ['LocalKms', new LocalKms(master), masterBytes],
    ['DataKeyCache', cache, dataBytes],
  ];

  for (const [name, value, bytes] of cases) {
    it(`${name}: inspect, format, JSON and String are redacted`, () => {
      for (const output of renderings(value)) assertNoLeak(output, bytes, name);
    });
  }

  it('shows the non-secret identity', () => {
    assert.equal(inspect(dataKey), '[DataKey fields v1 redacted]');
    assert.deepEqual(JSON.parse(JSON.stringify(dataKey)), {
      kind: 'DataKey',
      redacted: true,
      keyId: 'fields',
      version: 1,
    });
    assert.equal(inspect(master), `[MasterKey ${master.id} redacted]`);
  });
});

describe('errors never reveal key bytes', () => {
  it('in messages, stacks and causes of failed operations', async () => {
    const keyBytes = randomBytes(32);
    const key = DataKey.fromBytes('fields', 1, keyBytes);
    const kek = XWingSecretKey.generate();
    const wrapped = Buffer.from(wrapDataKey(kek.publicKey, key, { tenantId: 't', kekVersion: 1 }));
    wrapped[wrapped.length - 1]! ^= 1;
    const errors: unknown[] = [];
    const capture = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        errors.push(error);
      }
    };
    capture(() => unwrapDataKey(kek, { tenantId: 't', kekVersion: 1 }, wrapped));
    capture(() =>
      decryptField(
        key,
        { tenantId: 't', collection: 'c', recordId: 'r', field: 'f' },
        Buffer.alloc(40, 0xf1),
      ),
    );
    capture(() => DataKey.fromBytes('fields', 1, keyBytes.subarray(0, 31)));
    capture(() => MasterKey.fromText(keyBytes.subarray(0, 31).toString('hex')));
    await loadMasterKey({ env: { [MASTER_KEY_ENV]: `${keyBytes.toString('base64')}!` } }).catch(
      (e) => errors.push(e),
    );
    assert.equal(errors.length, 5);
    for (const error of errors) {
      assert.ok(error instanceof CryptoError);
      for (const output of [
        error.message,
        String(error.stack),
        inspect(error, { depth: 5 }),
        JSON.stringify(error),
      ]) {
        assertNoLeak(output, keyBytes, error.code);
      }
    }
  });
});
