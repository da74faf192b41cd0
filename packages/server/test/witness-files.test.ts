/**
 * The witness's files and flags: the state file's compare-and-swap and no-rollback rule,
 * the key file's format, mode and validation, and `--log ORIGIN=VKEY` parsing.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseVerifierKey } from '@palisade/ledger';
import { generateEd25519Key, nodeVerifyProvider } from '@palisade/ledger/node';
import { ConfigError } from '../src/config/index.ts';
import {
  createWitnessKeyFile,
  loadWitnessKeys,
  parseListen,
  parseWitnessLogs,
  WITNESS_KEY_FORMAT,
  WitnessState,
} from '../src/witness/index.ts';
import { makeLogKeys } from './witness-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-witness-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const root = (byte: number) => new Uint8Array(32).fill(byte);

describe('witness state file', () => {
  it('advances by compare-and-swap only from the record it read', () => {
    const path = join(dir, 'cas.db');
    const state = WitnessState.open(path);
    try {
      assert.equal(state.advance('o', undefined, { size: 2, root: root(1) }, 'note-2'), true);
      // A second "first" checkpoint loses: the origin is no longer empty.
      assert.equal(state.advance('o', undefined, { size: 3, root: root(2) }, 'x'), false);
      const previous = { size: 2, root: root(1) };
      assert.equal(state.advance('o', previous, { size: 5, root: root(3) }, 'note-5'), true);
      // The same previous again (a concurrent request that read size 2) changes nothing.
      assert.equal(state.advance('o', previous, { size: 9, root: root(4) }, 'x'), false);
      // Same size, other root as previous: not a match either.
      assert.equal(
        state.advance('o', { size: 5, root: root(9) }, { size: 9, root: root(4) }, 'x'),
        false,
      );
      assert.deepEqual(state.get('o'), {
        origin: 'o',
        size: 5,
        root: root(3),
        checkpoint: 'note-5',
      });
    } finally {
      state.close();
    }
  });

  it('never rolls a size back, and survives reopening', () => {
    const path = join(dir, 'rollback.db');
    const state = WitnessState.open(path);
    state.advance('o', undefined, { size: 7, root: root(1) }, 'note-7');
    assert.throws(
      () => state.advance('o', { size: 7, root: root(1) }, { size: 6, root: root(2) }, 'x'),
      /never rolls back/,
    );
    state.close();
    const reopened = WitnessState.open(path);
    try {
      assert.deepEqual(
        reopened.all().map(({ origin, size }) => ({ origin, size })),
        [{ origin: 'o', size: 7 }],
      );
    } finally {
      reopened.close();
    }
  });
});

describe('witness key file', () => {
  it('is JSON with two seeds, mode 0600, and loads to the same vkeys', () => {
    const path = join(dir, 'key.json');
    const made = createWitnessKeyFile(path, 'witness.example/w1');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual(Object.keys(file).sort(), ['ed25519Seed', 'format', 'mldsa44Seed', 'name']);
    assert.equal(file.format, WITNESS_KEY_FORMAT);
    assert.deepEqual(loadWitnessKeys(path).vkeys, made.vkeys);
    const types = made.vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider).type);
    assert.deepEqual(types, [0x04, 0x06]);
    assert.throws(() => createWitnessKeyFile(path, 'witness.example/w1'), /never overwritten/);
  });

  it('is refused when group or others can read it, or a field is bad', () => {
    const path = join(dir, 'loose.json');
    createWitnessKeyFile(path, 'witness.example/w2');
    chmodSync(path, 0o644);
    assert.throws(() => loadWitnessKeys(path), /chmod 600/);
    const good = JSON.parse(readFileSync(path, 'utf8'));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, format: 'other' }, /format/],
      [{ ...good, name: 'bad name' }, /invalid witness name/],
      [{ ...good, ed25519Seed: 'AAAA' }, /ed25519Seed/],
      [{ ...good, mldsa44Seed: undefined }, /mldsa44Seed/],
    ];
    for (const [content, message] of cases) {
      writeFileSync(path, JSON.stringify(content), { mode: 0o600 });
      chmodSync(path, 0o600);
      assert.throws(
        () => loadWitnessKeys(path),
        (error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});

describe('witness flags', () => {
  it('groups ORIGIN=VKEY specs by origin, Ed25519 and ML-DSA-44 keys only', () => {
    const a = makeLogKeys('log.example/a');
    const logs = parseWitnessLogs([
      `${a.origin}=${a.vkeys[0]}`,
      `${a.origin}=${a.vkeys[1]}`,
      `log.example/b=${a.vkeys[0]}`,
    ]);
    assert.deepEqual(
      logs.map((log) => [log.origin, log.verifiers.map((v) => v.type)]),
      [
        ['log.example/a', [1, 6]],
        ['log.example/b', [1]],
      ],
    );
    const cosigner = generateEd25519Key('w', 0x04).vkey;
    for (const [specs, message] of [
      [[], /at least one --log/],
      [[a.vkeys[0]!], /ORIGIN=VKEY/],
      [[`x=not-a-vkey`], /--log x:/],
      [[`x=${cosigner}`], /Ed25519 \(0x01\) or ML-DSA-44/],
      [[`x=${a.vkeys[0]}`, `x=${a.vkeys[0]}`], /given twice/],
    ] as const) {
      assert.throws(() => parseWitnessLogs(specs), message);
    }
  });

  it('parses --listen HOST:PORT', () => {
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('[::1]:7380'), { host: '::1', port: 7380 });
    for (const bad of ['7380', ':80', 'host:', 'host:x', 'host:70000'])
      assert.throws(() => parseListen(bad), /HOST:PORT/);
  });
});
