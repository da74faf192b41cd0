/** Note signers and key generation on Node's native Ed25519 and ML-DSA-44. */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { concatBytes, uint64 } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import { ed25519CosignatureMessage, mldsa44CosignatureMessage } from '../note/cosignature.ts';
import type { NoteSigner, SignatureType } from '../note/types.ts';
import { SIGNATURE_TYPES } from '../note/types.ts';
import { computeKeyId, formatVerifierKey } from '../note/verifier.ts';
import { nodeSha256 } from './providers.ts';

/** A generated signing key with its public forms. */
export interface GeneratedKey {
  readonly privateKey: KeyObject;
  /** Raw public key bytes (32 for Ed25519, 1312 for ML-DSA-44). */
  readonly publicKey: Uint8Array;
  /** The vkey for `name` and the key's signature type. */
  readonly vkey: string;
}

function rawPublic(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(privateKey).export({ format: 'raw-public' }));
}

function expectType(privateKey: KeyObject, want: string): void {
  if (privateKey.asymmetricKeyType !== want) {
    throw new LedgerError(
      'LEDGER_BAD_KEY',
      `expected a ${want} private key, got ${privateKey.asymmetricKeyType}`,
    );
  }
}

function signer(
  name: string,
  type: SignatureType,
  privateKey: KeyObject,
  sign: NoteSigner['sign'],
): NoteSigner {
  return { name, type, keyId: computeKeyId(nodeSha256, name, type, rawPublic(privateKey)), sign };
}

/** A type 0x01 signer: Ed25519 over the note text (what every note verifier knows). */
export function ed25519Signer(name: string, privateKey: KeyObject): NoteSigner {
  expectType(privateKey, 'ed25519');
  return signer(
    name,
    SIGNATURE_TYPES.ed25519,
    privateKey,
    (text) => new Uint8Array(sign(null, text, privateKey)),
  );
}

/** A type 0x04 signer: timestamped Ed25519 `cosignature/v1` over a checkpoint. */
export function ed25519CosignatureSigner(name: string, privateKey: KeyObject): NoteSigner {
  expectType(privateKey, 'ed25519');
  return signer(name, SIGNATURE_TYPES.ed25519Cosignature, privateKey, (text, { timestamp }) => {
    const message = ed25519CosignatureMessage(BigInt(timestamp), text);
    return concatBytes(uint64(timestamp), sign(null, message, privateKey));
  });
}

/** A type 0x06 signer: timestamped ML-DSA-44 `subtree/v1` cosignature over a checkpoint. */
export function mldsa44Signer(name: string, privateKey: KeyObject): NoteSigner {
  expectType(privateKey, 'ml-dsa-44');
  return signer(name, SIGNATURE_TYPES.mldsa44Cosignature, privateKey, (text, { timestamp }) => {
    const message = mldsa44CosignatureMessage(name, BigInt(timestamp), text);
    if (message === undefined)
      throw new LedgerError(
        'LEDGER_BAD_CHECKPOINT',
        'ML-DSA-44 cosignatures sign checkpoints only',
      );
    return concatBytes(uint64(timestamp), sign(null, message, privateKey));
  });
}

/** Imports a 32-byte Ed25519 seed (RFC 8032 private key) as a KeyObject. */
export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new LedgerError('LEDGER_BAD_KEY', 'an Ed25519 seed is 32 bytes');
  return createPrivateKey({
    key: Buffer.from(seed),
    format: 'raw-private',
    asymmetricKeyType: 'ed25519',
  });
}

/** Imports a 32-byte ML-DSA-44 seed (FIPS 204 ξ) as a KeyObject. */
export function mldsa44PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new LedgerError('LEDGER_BAD_KEY', 'an ML-DSA-44 seed is 32 bytes');
  return createPrivateKey({
    key: Buffer.from(seed),
    format: 'raw-seed',
    asymmetricKeyType: 'ml-dsa-44',
  });
}

/** Generates an Ed25519 key and its vkey (`type` 0x01 for logs, 0x04 for witnesses). */
export function generateEd25519Key(
  name: string,
  type: 0x01 | 0x04 = SIGNATURE_TYPES.ed25519,
): GeneratedKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = rawPublic(privateKey);
  return { privateKey, publicKey, vkey: formatVerifierKey(nodeSha256, name, type, publicKey) };
}

/** Generates an ML-DSA-44 key and its type 0x06 vkey. */
export function generateMlDsa44Key(name: string): GeneratedKey {
  const { privateKey } = generateKeyPairSync('ml-dsa-44');
  const publicKey = rawPublic(privateKey);
  return {
    privateKey,
    publicKey,
    vkey: formatVerifierKey(nodeSha256, name, SIGNATURE_TYPES.mldsa44Cosignature, publicKey),
  };
}
