/**
 * The witness over real HTTP (port 0): C2SP tlog-witness add-checkpoint against logs built
 * with the ledger package. Every refusal also checks that the recorded state is unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatAddCheckpointRequest, toBase64 } from '@palisade/ledger';
import pino from 'pino';
import {
  createWitnessKeyFile,
  MAX_REQUEST_BYTES,
  type RunningWitness,
  startWitness,
  type WitnessKeys,
  WitnessState,
} from '../src/witness/index.ts';
import {
  addCheckpoint,
  type LogKeys,
  logSpecs,
  makeLogKeys,
  TestLog,
  verifiedCosignatures,
} from './witness-support.ts';

const ORIGIN = 'palisade.test/platform';
const dir = mkdtempSync(join(tmpdir(), 'palisade-witness-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A fresh witness with its own key and state files, following `logs`. */
async function freshWitness(follow: string[], stateFile?: string, keyFile?: string) {
  counter += 1;
  const key = keyFile ?? join(dir, `key-${counter}.json`);
  const keys =
    keyFile === undefined ? createWitnessKeyFile(key, `witness.test/w${counter}`) : undefined;
  const state = stateFile ?? join(dir, `state-${counter}.db`);
  const lines: Record<string, unknown>[] = [];
  const witness = await startWitness({
    listen: '127.0.0.1:0',
    keyFile: key,
    stateFile: state,
    logs: follow,
    logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
  });
  return { witness, keys: keys ?? witness.keys, stateFile: state, keyFile: key, lines };
}

/** The (size, root) the state file holds for `origin`, read through a second connection. */
function recorded(stateFile: string, origin = ORIGIN): { size: number; root: string } | undefined {
  const state = WitnessState.open(stateFile);
  try {
    const stored = state.get(origin);
    return stored && { size: stored.size, root: toBase64(stored.root) };
  } finally {
    state.close();
  }
}

describe('witness add-checkpoint over HTTP', () => {
  let logKeys: LogKeys;
  let log: TestLog;
  let witness: RunningWitness;
  let keys: WitnessKeys;
  let stateFile: string;
  let keyFile: string;
  let lines: Record<string, unknown>[];

  before(async () => {
    logKeys = makeLogKeys(ORIGIN);
    log = await new TestLog(logKeys).append(5);
    ({ witness, keys, stateFile, keyFile, lines } = await freshWitness(logSpecs(logKeys)));
  });
  after(() => witness.close());

  it('cosigns the first checkpoint (old 0) with both keys, verifiable with the vkeys', async () => {
    const answer = await addCheckpoint(witness.url, await log.request(0));
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.contentType, /^text\/plain/);
    assert.match(answer.body, /^(— witness\.test\/w\d+ [A-Za-z0-9+/=]+\n){2}$/);
    const verified = await verifiedCosignatures(await log.checkpoint(), answer.body, keys.vkeys);
    assert.deepEqual(
      verified,
      keys.vkeys.map((vkey) => vkey.split('+').slice(0, 2).join('+')),
    );
    assert.equal(recorded(stateFile)?.size, 5);
  });

  it('cosigns an extension that comes with a valid consistency proof', async () => {
    await log.append(8);
    const answer = await addCheckpoint(witness.url, await log.request(5));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(
      (await verifiedCosignatures(await log.checkpoint(), answer.body, keys.vkeys)).length,
      2,
    );
    assert.equal(recorded(stateFile)?.size, 13);
  });

  it('cosigns the same checkpoint again (old = size, same root)', async () => {
    const answer = await addCheckpoint(witness.url, await log.request(13));
    assert.equal(answer.status, 200, answer.body);
  });

  it('answers 409 text/x.tlog.size with its size when old is not what it cosigned', async () => {
    await log.append(3);
    for (const old of [0, 5, 14]) {
      const answer = await addCheckpoint(witness.url, await log.request(old));
      assert.equal(answer.status, 409, `old ${old}: ${answer.body}`);
      assert.equal(answer.contentType, 'text/x.tlog.size');
      assert.equal(answer.body, '13\n');
    }
    assert.equal(recorded(stateFile)?.size, 13);
  });

  it('refuses a fork: same size, different root → 409, state unchanged', async () => {
    const before = recorded(stateFile);
    const fork = await log.rewrite('forked').append(13);
    const answer = await addCheckpoint(witness.url, await fork.request(13));
    assert.equal(answer.status, 409, answer.body);
    assert.equal(answer.contentType, 'text/x.tlog.size');
    assert.equal(answer.body, '13\n');
    assert.deepEqual(recorded(stateFile), before);
    // The log signed a non-extension: the witness keeps it in its log as evidence.
    const evidence = lines.find((line) => line.code === 'LEDGER_FORK');
    assert.equal(evidence?.level, 40);
    assert.ok(String(evidence?.checkpoint).startsWith(`${await fork.checkpointText()}\n— `));
  });

  it('refuses a fork at a larger size whose proof does not verify → 422, state unchanged', async () => {
    const before = recorded(stateFile);
    const fork = await log.rewrite('forked-larger').append(20);
    const answer = await addCheckpoint(witness.url, await fork.request(13));
    assert.equal(answer.status, 422, answer.body);
    // The honest proof does not make the forked checkpoint consistent either.
    const mixed = formatAddCheckpointRequest({
      oldSize: 13,
      proof: await log.append(4).then((l) => l.proof(13, 20)),
      checkpoint: await fork.checkpoint(20),
    });
    assert.equal((await addCheckpoint(witness.url, mixed)).status, 422);
    assert.deepEqual(recorded(stateFile), before);
  });

  it('still accepts the honest extension after refusing forks', async () => {
    const answer = await addCheckpoint(witness.url, await log.request(13));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(recorded(stateFile)?.size, log.size);
  });

  it('answers 404 for an origin it does not follow', async () => {
    const other = await new TestLog(makeLogKeys('palisade.test/other')).append(2);
    const answer = await addCheckpoint(witness.url, await other.request(0));
    assert.equal(answer.status, 404, answer.body);
    assert.equal(recorded(stateFile, 'palisade.test/other'), undefined);
  });

  it('answers 403 when no trusted key signed, or a trusted signature is bad', async () => {
    const before = recorded(stateFile);
    await log.append(1);
    const stranger = makeLogKeys(ORIGIN); // same name, different keys
    const unsigned = formatAddCheckpointRequest({
      oldSize: before!.size,
      proof: await log.proof(before!.size),
      checkpoint: await log.checkpoint(log.size, stranger.signers),
    });
    const unknown = await addCheckpoint(witness.url, unsigned);
    assert.equal(unknown.status, 403);
    assert.match(unknown.body, /no signature from a known key/);
    // The trusted signature over different text: change the root line, keep the signatures.
    const honest = await log.request(before!.size);
    const lines = honest.split('\n');
    const rootAt = lines.indexOf(ORIGIN) + 2;
    lines[rootAt] = toBase64(new Uint8Array(32).fill(7));
    const tampered = await addCheckpoint(witness.url, lines.join('\n'));
    assert.equal(tampered.status, 403);
    assert.match(tampered.body, /invalid signature/);
    assert.deepEqual(recorded(stateFile), before);
  });

  it('answers 400 to malformed bodies', async () => {
    const before = recorded(stateFile);
    const checkpoint = await log.checkpoint();
    const old = String(before!.size);
    const cases: Record<string, string | Uint8Array> = {
      empty: '',
      'no old line': `\n${checkpoint}`,
      'bad old size': `old 0${old}\n\n${checkpoint}`,
      'no blank line': `old ${old}\n${checkpoint}`,
      'proof line not base64 of 32 bytes': `old ${old}\nnot-a-hash\n\n${checkpoint}`,
      'too many proof lines': `old ${old}\n${`${toBase64(new Uint8Array(32))}\n`.repeat(64)}\n${checkpoint}`,
      'old above size': `old ${log.size + 1}\n\n${checkpoint}`,
      'not a note': `old ${old}\n\nhello\n`,
      'not a checkpoint': `old ${old}\n\n${checkpoint.replace(/\n\d+\n/, '\nten\n')}`,
      'not UTF-8': Uint8Array.of(0x6f, 0x6c, 0x64, 0x20, 0xff, 0x0a),
    };
    for (const [name, body] of Object.entries(cases)) {
      const answer = await addCheckpoint(witness.url, body);
      assert.equal(answer.status, 400, `${name}: ${answer.body}`);
    }
    assert.deepEqual(recorded(stateFile), before);
  });

  it('answers 413 to a body over the limit, 404 elsewhere and 405 to other methods', async () => {
    const big = `old 0\n\n${'x'.repeat(MAX_REQUEST_BYTES)}`;
    assert.equal((await addCheckpoint(witness.url, big)).status, 413);
    assert.equal((await fetch(`${witness.url}/`)).status, 404);
    const get = await fetch(`${witness.url}/add-checkpoint`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('lets only one of two concurrent requests from the same old size advance', async () => {
    const from = recorded(stateFile)!.size;
    const first = await log.append(2).then((l) => l.request(from));
    const second = await log.append(3).then((l) => l.request(from));
    const answers = await Promise.all(
      [first, second].map((body) => addCheckpoint(witness.url, body)),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
    const winner = answers.findIndex((a) => a.status === 200);
    assert.equal(answers[1 - winner]!.body, `${recorded(stateFile)!.size}\n`);
  });

  it('remembers after a restart: refuses a fork of what it cosigned before', async () => {
    const before = recorded(stateFile)!;
    await witness.close();
    ({ witness } = await freshWitness(logSpecs(logKeys), stateFile, keyFile));
    const fork = await log.rewrite('after-restart').append(before.size);
    const same = await addCheckpoint(witness.url, await fork.request(before.size));
    assert.equal(same.status, 409, same.body);
    const fresh = await addCheckpoint(witness.url, await fork.request(0));
    assert.equal(fresh.status, 409);
    assert.equal(fresh.body, `${before.size}\n`);
    assert.deepEqual(recorded(stateFile), before);
  });
});

describe('witness log keys', () => {
  it('accepts a log trusted by its ML-DSA-44 key alone', async () => {
    const keys = makeLogKeys('palisade.test/pq-only');
    const log = await new TestLog(keys).append(3);
    const { witness } = await freshWitness([`${keys.origin}=${keys.vkeys[1]}`]);
    try {
      const answer = await addCheckpoint(witness.url, await log.request(0));
      assert.equal(answer.status, 200, answer.body);
      // Signed by the Ed25519 key only: no trusted signature.
      const edOnly = formatAddCheckpointRequest({
        oldSize: 3,
        proof: [],
        checkpoint: await log.checkpoint(3, keys.signers.slice(0, 1)),
      });
      assert.equal((await addCheckpoint(witness.url, edOnly)).status, 403);
    } finally {
      await witness.close();
    }
  });
});
