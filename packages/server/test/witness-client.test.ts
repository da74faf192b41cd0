/**
 * The platform's witness client against a witness that answers over real HTTP (port 0) with
 * whatever a test makes it say.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  formatSignatureLine,
  MemoryHashStore,
  parseAddCheckpointRequest,
  parseNote,
  signatureLines,
} from '@palisade/ledger';
import { ed25519CosignatureSigner, generateEd25519Key, nodeHasher } from '@palisade/ledger/node';
import pino from 'pino';
import { WitnessPool } from '../src/ledger/index.ts';
import { makeLogKeys, TestLog } from './witness-support.ts';

const WITNESS = 'witness.test/w1';

describe('witness client', () => {
  const key = generateEd25519Key(WITNESS, 0x04);
  const signer = ed25519CosignatureSigner(WITNESS, key.privateKey);
  const logKeys = makeLogKeys('palisade.test/platform');
  const platformKeyId = Number.parseInt(logKeys.vkeys[0]!.split('+')[1]!, 16);
  let server: Server;
  let url: string;

  before(async () => {
    // A witness that cosigns honestly, then appends lines it has no business adding: one in
    // the name of another witness (a second cosignature towards the quorum) and one with the
    // platform's own key ID (which would make every verifier reject the checkpoint).
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', async () => {
        const { checkpoint } = parseAddCheckpointRequest(body);
        const { text } = parseNote(checkpoint);
        const origin = text.slice(0, text.indexOf('\n'));
        const genuine = await signatureLines(text, [signer], { timestamp: 1_700_000_000 });
        const fake = new Uint8Array(72).fill(1);
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(
          genuine +
            formatSignatureLine('witness.test/w2', 0x01020304, fake) +
            formatSignatureLine(origin, platformKeyId, fake),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps only the cosignature lines that verify with the witness keys', async () => {
    const log = await new TestLog(logKeys).append(3);
    const pool = new WitnessPool(
      [`${url}=${key.vkey}`],
      nodeHasher,
      new MemoryHashStore(),
      pino({ level: 'silent' }),
    );
    const note = await log.checkpoint();
    const [lines] = await pool.cosign(note, log.size);
    assert.ok(lines !== undefined, 'the witness cosigned');
    const names = parseNote(`${note}${lines}`).signatures.map((sig) => sig.name);
    assert.deepEqual(names, ['palisade.test/platform', 'palisade.test/platform', WITNESS]);
  });
});
