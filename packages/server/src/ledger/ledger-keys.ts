import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import {
  formatVerifierKey,
  type NoteSigner,
  type NoteVerifier,
  parseVerifierKey,
  SIGNATURE_TYPES,
} from '@palisade/ledger';
import {
  ed25519PrivateKeyFromSeed,
  ed25519Signer,
  mldsa44PrivateKeyFromSeed,
  mldsa44Signer,
  nodeSha256,
  nodeVerifyProvider,
} from '@palisade/ledger/node';

/** The platform's ledger identity: its origin and hybrid signing keys. */
export interface PlatformLedgerKeys {
  /** Origin line of the platform checkpoint; tenant checkpoints use `<origin>/tenant/<id>`. */
  readonly origin: string;
  /** Ed25519 (signed-note type 0x01): what every note verifier knows. */
  readonly ed25519: NoteSigner;
  /** ML-DSA-44 (tlog-cosignature v1.1, type 0x06): the post-quantum signature line. */
  readonly mldsa44: NoteSigner;
  /** The verifier keys (vkeys) to publish. */
  readonly vkeys: readonly string[];
  readonly verifiers: readonly NoteVerifier[];
}

interface KeyFile {
  readonly origin: string;
  readonly ed25519Seed: string;
  readonly mldsa44Seed: string;
}

function rawPublic(key: ReturnType<typeof ed25519PrivateKeyFromSeed>): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'raw-public' }));
}

/**
 * Loads the ledger signing keys from `path`, or makes them (file mode 0600) on first start.
 * The seeds never leave this file; the origin is fixed when the file is made, because
 * witnesses and verifiers remember it.
 */
export function loadLedgerKeys(
  path: string,
  origin: string | undefined,
): { keys: PlatformLedgerKeys; generated: boolean } {
  let generated = false;
  if (!existsSync(path)) {
    const ed25519Seed = randomBytes(32);
    const fingerprint = createHash('sha256')
      .update(rawPublic(ed25519PrivateKeyFromSeed(ed25519Seed)))
      .digest('hex')
      .slice(0, 12);
    const file: KeyFile = {
      origin: origin ?? `palisade.localhost/${fingerprint}`,
      ed25519Seed: ed25519Seed.toString('base64'),
      mldsa44Seed: randomBytes(32).toString('base64'),
    };
    mkdirSync(dirname(path), { recursive: true });
    // On disk before the keys sign checkpoints, which are stored durably and given to witnesses.
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    generated = true;
  }
  const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  if (origin !== undefined && origin !== file.origin) {
    throw new Error(
      `the ledger key file ${path} is for origin ${file.origin}, not ${origin}; an origin cannot change once published`,
    );
  }
  const edKey = ed25519PrivateKeyFromSeed(Buffer.from(file.ed25519Seed, 'base64'));
  const pqKey = mldsa44PrivateKeyFromSeed(Buffer.from(file.mldsa44Seed, 'base64'));
  const vkeys = [
    formatVerifierKey(nodeSha256, file.origin, SIGNATURE_TYPES.ed25519, rawPublic(edKey)),
    formatVerifierKey(
      nodeSha256,
      file.origin,
      SIGNATURE_TYPES.mldsa44Cosignature,
      rawPublic(pqKey),
    ),
  ];
  return {
    generated,
    keys: {
      origin: file.origin,
      ed25519: ed25519Signer(file.origin, edKey),
      mldsa44: mldsa44Signer(file.origin, pqKey),
      vkeys,
      verifiers: vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider)),
    },
  };
}
