/**
 * Verifier construction: key IDs, vkey parsing, and the three supported signature types.
 * Primitive verification is injected through {@link VerifyProvider}.
 */
import { fromBase64, toBase64 } from '../encoding/base64.ts';
import { concatBytes, readUint32, toHex, utf8 } from '../encoding/bytes.ts';
import { LedgerError } from '../errors.ts';
import type { Sha256 } from '../merkle/hasher.ts';
import {
  ed25519CosignatureMessage,
  mldsa44CosignatureMessage,
  splitTimestamp,
} from './cosignature.ts';
import { isValidKeyName } from './signed-note.ts';
import { type NoteVerifier, SIGNATURE_TYPES, type SignatureType } from './types.ts';

/** A primitive signature check bound to one public key. May be async (e.g. WebCrypto). */
export type VerifyFn = (message: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;

/** The cryptography a verifier needs: SHA-256 and public-key imports. */
export interface VerifyProvider {
  readonly sha256: Sha256;
  /** Imports a 32-byte Ed25519 public key. */
  ed25519(publicKey: Uint8Array): VerifyFn;
  /** Imports a 1312-byte ML-DSA-44 public key. */
  mldsa44(publicKey: Uint8Array): VerifyFn;
}

/** Public key length for each supported type. */
export const PUBLIC_KEY_SIZES: Readonly<Record<SignatureType, number>> = { 1: 32, 4: 32, 6: 1312 };

/** `SHA-256(name ‖ 0x0A ‖ type ‖ publicKey)[:4]` as a uint32. */
export function computeKeyId(
  sha256: Sha256,
  name: string,
  type: number,
  publicKey: Uint8Array,
): number {
  return readUint32(sha256(concatBytes(utf8(`${name}\n`), Uint8Array.of(type), publicKey)));
}

/** Formats a vkey: `<name>+<hex8 key ID>+<base64(type ‖ publicKey)>`. */
export function formatVerifierKey(
  sha256: Sha256,
  name: string,
  type: SignatureType,
  publicKey: Uint8Array,
): string {
  const id = computeKeyId(sha256, name, type, publicKey);
  return `${name}+${id.toString(16).padStart(8, '0')}+${toBase64(concatBytes(Uint8Array.of(type), publicKey))}`;
}

function badKey(message: string): LedgerError {
  return new LedgerError('LEDGER_BAD_KEY', message);
}

async function safely(fn: VerifyFn, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    return (await fn(message, signature)) === true;
  } catch {
    return false;
  }
}

/** Builds a verifier for `type` from a raw public key (checking its length). */
export function createVerifier(
  provider: VerifyProvider,
  name: string,
  type: SignatureType,
  publicKey: Uint8Array,
): NoteVerifier {
  if (!isValidKeyName(name))
    throw new LedgerError('LEDGER_BAD_KEY', `invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== PUBLIC_KEY_SIZES[type]) {
    throw new LedgerError(
      'LEDGER_BAD_KEY',
      `type 0x0${type} public key is ${publicKey.length} bytes, want ${PUBLIC_KEY_SIZES[type]}`,
    );
  }
  const keyId = computeKeyId(provider.sha256, name, type, publicKey);
  if (type === SIGNATURE_TYPES.ed25519) {
    const check = provider.ed25519(publicKey);
    return {
      name,
      keyId,
      type,
      verify: (text, sig) => sig.length === 64 && safely(check, text, sig),
    };
  }
  if (type === SIGNATURE_TYPES.ed25519Cosignature) {
    const check = provider.ed25519(publicKey);
    return {
      name,
      keyId,
      type,
      verify(text, sig) {
        const parts = splitTimestamp(sig, 64);
        return (
          parts !== undefined &&
          safely(check, ed25519CosignatureMessage(parts.timestamp, text), parts.signature)
        );
      },
    };
  }
  const check = provider.mldsa44(publicKey);
  return {
    name,
    keyId,
    type,
    verify(text, sig) {
      const parts = splitTimestamp(sig, 2420);
      const message = parts && mldsa44CosignatureMessage(name, parts.timestamp, text);
      return (
        parts !== undefined && message !== undefined && safely(check, message, parts.signature)
      );
    },
  };
}

/**
 * Parses a vkey `<name>+<hex8 key ID>+<base64(type ‖ public key)>` for types 0x01, 0x04 and
 * 0x06, checking the key ID against its derivation. Throws `LEDGER_BAD_KEY`.
 */
export function parseVerifierKey(vkey: string, provider: VerifyProvider): NoteVerifier {
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw badKey('vkey must be <name>+<key ID>+<key>');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw badKey('vkey key ID must be 8 lowercase hex digits');
  const raw = fromBase64(vkey.slice(second + 1));
  if (raw === undefined || raw.length < 2) throw badKey('vkey key material is not valid base64');
  const type = raw[0]!;
  if (type !== 1 && type !== 4 && type !== 6) {
    throw new LedgerError(
      'LEDGER_BAD_KEY',
      `unsupported signature type 0x${toHex(Uint8Array.of(type))}`,
    );
  }
  const verifier = createVerifier(provider, name, type, raw.subarray(1));
  if (verifier.keyId !== Number.parseInt(idHex, 16)) {
    throw new LedgerError('LEDGER_BAD_KEY', `vkey key ID ${idHex} does not match the key`);
  }
  return verifier;
}
