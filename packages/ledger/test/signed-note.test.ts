import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ed25519PrivateKeyFromSeed,
  ed25519Signer,
  nodeVerifyProvider as provider,
} from '../src/node/index.ts';
import {
  cosignatureTimestamp,
  fromBase64,
  type LedgerErrorCode,
  openNote,
  parseNote,
  parseVerifierKey,
  readKeyIdHex,
  signNote,
} from './note-support.ts';
import { failsWith, loadVectors } from './support.ts';

interface NoteVector {
  id: string;
  vkey?: string;
  vkeys?: string[];
  note?: string;
  note_construction?: string;
  text?: string;
  expect: string;
}
interface Vectors {
  valid_notes: NoteVector[];
  invalid_or_edge_notes: NoteVector[];
  signing_reproduction: { skey: string; text: string; expected_signature_line: string };
  invalid_vkeys: { vkey: string; why: string }[];
  key_id_derivation: { vkey: string; name: string; key_id_hex: string; match: boolean }[];
  cosignatures: {
    sigsum_vector: {
      witness_vkey_type04: string;
      cosigned_checkpoint_text: string;
      lines: { line: string; verdict: string }[];
    };
    timestamp_parse_only: { sig_b64: string; key_id_hex: string; timestamp: number }[];
  };
}

const vectors = loadVectors<Vectors>('signed-notes-checkpoints-cosignatures.json');
const keysOf = (v: NoteVector) =>
  (v.vkeys ?? (v.vkey ? [v.vkey] : [])).map((k) => parseVerifierKey(k, provider));

describe('signed-note vectors', () => {
  for (const v of vectors.valid_notes) {
    it(`${v.id} opens`, async () => {
      const opened = await openNote(v.note!, keysOf(v));
      assert.equal(opened.verified.length, keysOf(v).length);
      if (v.text !== undefined) assert.equal(opened.text, v.text);
    });
  }

  it('ignores a signature from an unknown key next to a known one', async () => {
    const [, both] = vectors.valid_notes;
    const opened = await openNote(both!.note!, [parseVerifierKey(both!.vkeys![0]!, provider)]);
    assert.deepEqual(
      opened.verified.map((s) => s.name),
      ['PeterNeumann'],
    );
    assert.deepEqual(
      opened.unverified.map((s) => s.name),
      ['EnochRoot'],
    );
  });

  it('checks every line of a known key: a failing repeat rejects the note, as in golang/mod', async () => {
    const peter = vectors.valid_notes[0]!;
    const line = peter.note!.slice(peter.note!.lastIndexOf('\n\n') + 2, -1);
    const at = line.length - 8;
    const forged = `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
    const opened = await openNote(`${peter.note}${line}\n`, keysOf(peter));
    assert.equal(opened.verified.length, 1, 'an identical repeat is dropped');
    await assert.rejects(
      openNote(`${peter.note}${forged}\n`, keysOf(peter)),
      failsWith('LEDGER_BAD_SIGNATURE'),
    );
  });

  const expected: Record<string, LedgerErrorCode> = {
    'corrupted-signature': 'LEDGER_BAD_SIGNATURE',
    'no-known-key': 'LEDGER_UNKNOWN_KEY',
  };
  for (const v of vectors.invalid_or_edge_notes) {
    it(`${v.id} is rejected`, async () => {
      let note = v.note;
      if (v.note_construction !== undefined) {
        const peter = vectors.valid_notes[0]!;
        const line = peter.note!.slice(peter.note!.lastIndexOf('\n\n') + 2);
        note = `${peter.text}\n${line.repeat(101)}`;
        // 100 signatures are accepted (the spec requires at least 16).
        await openNote(`${peter.text}\n${line.repeat(100)}`, keysOf(v));
      }
      await assert.rejects(
        openNote(note!, keysOf(v)),
        failsWith(expected[v.id] ?? 'LEDGER_BAD_NOTE'),
      );
    });
  }

  it('reproduces the golang/mod signature byte for byte', async () => {
    const { skey, text, expected_signature_line } = vectors.signing_reproduction;
    const [, , name, , ...key] = skey.split('+') as [string, string, string, string, string];
    const raw = fromBase64(key.join('+'))!;
    assert.equal(raw[0], 1);
    const signer = ed25519Signer(name, ed25519PrivateKeyFromSeed(raw.subarray(1)));
    assert.equal(await signNote(text, [signer]), `${text}\n${expected_signature_line}`);
  });

  it('rejects every invalid vkey', () => {
    for (const { vkey, why } of vectors.invalid_vkeys) {
      assert.throws(() => parseVerifierKey(vkey, provider), failsWith('LEDGER_BAD_KEY'), why);
    }
  });

  it('derives key IDs as the spec says', () => {
    for (const v of vectors.key_id_derivation.filter((k) => k.match)) {
      const verifier = parseVerifierKey(v.vkey, provider);
      assert.equal(verifier.name, v.name);
      assert.equal(readKeyIdHex(verifier.keyId), v.key_id_hex);
    }
  });

  it('rejects every single-character mutation of a valid vkey', () => {
    const vkey = vectors.valid_notes[0]!.vkey!;
    for (let i = 0; i < vkey.length; i++) {
      const c = vkey.charCodeAt(i);
      const mutated =
        vkey.slice(0, i) + String.fromCharCode(c === 0x41 ? 0x42 : 0x41) + vkey.slice(i + 1);
      assert.throws(
        () => parseVerifierKey(mutated, provider),
        failsWith('LEDGER_BAD_KEY'),
        mutated,
      );
    }
  });

  it('rejects malformed structure precisely', () => {
    for (const bad of [
      '',
      'text\n',
      'text\n\n\u2014 a\n',
      'text\n\n\u2014 a+b AAAAAAA=\n',
      'text\n\n\u2014 a AAAA\n',
      'x\ud800\n\n',
    ]) {
      assert.throws(() => parseNote(bad), failsWith('LEDGER_BAD_NOTE'), JSON.stringify(bad));
    }
  });
});

describe('tlog-cosignature Ed25519 vectors (sigsum)', () => {
  const { witness_vkey_type04, cosigned_checkpoint_text, lines } =
    vectors.cosignatures.sigsum_vector;
  const witness = parseVerifierKey(witness_vkey_type04, provider);
  const verdicts: Record<string, LedgerErrorCode | undefined> = {
    'ignored(unknown key)': 'LEDGER_UNKNOWN_KEY',
    'valid ts=1234': undefined,
    'malformed(length)': 'LEDGER_BAD_SIGNATURE',
  };
  for (const [i, { line, verdict }] of lines.entries()) {
    it(`line ${i}: ${verdict}`, async () => {
      const note = `${cosigned_checkpoint_text}\n${line}\n`;
      const want = verdicts[verdict];
      if (want !== undefined) {
        await assert.rejects(openNote(note, [witness]), failsWith(want));
        return;
      }
      const opened = await openNote(note, [witness]);
      assert.equal(cosignatureTimestamp(opened.verified[0]!.signature), 1234);
    });
  }

  it('reads timestamps of published cosignatures', () => {
    for (const { sig_b64, key_id_hex, timestamp } of vectors.cosignatures.timestamp_parse_only) {
      const bytes = fromBase64(sig_b64)!;
      assert.equal(readKeyIdHex(new DataView(bytes.buffer).getUint32(0)), key_id_hex);
      assert.equal(cosignatureTimestamp(bytes.subarray(4)), timestamp);
    }
  });
});
