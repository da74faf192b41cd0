/**
 * Importing and exporting the X-Wing component keys with node:crypto.
 *
 * Node added the `raw-seed` / `raw-private` / `raw-public` key formats in 24.15 (backport of
 * nodejs/node#62240); ML-KEM itself arrived in 24.7. On runtimes without the raw formats the
 * same keys go through DER: PKCS#8 with the ML-KEM `seed [0]` choice
 * (draft-ietf-lamps-kyber-certificates) and SPKI, whose fixed prefixes are below. Both paths
 * yield identical keys (test/key-import.test.ts).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

type KeyType = 'ml-kem-768' | 'x25519';

/** DER prefixes: PKCS#8 for the private seed / scalar, SPKI for the public key. */
const DER = {
  'ml-kem-768': {
    pkcs8: Buffer.from('3054020100300b06096086480165030404020442' + '8040', 'hex'),
    spki: Buffer.from('308204b2300b0609608648016503040402038204a100', 'hex'),
    publicLength: 1184,
  },
  x25519: {
    pkcs8: Buffer.from('302e020100300506032b656e04220420', 'hex'),
    spki: Buffer.from('302a300506032b656e032100', 'hex'),
    publicLength: 32,
  },
} as const;

function probeRawFormats(): boolean {
  try {
    createPrivateKey({
      key: Buffer.alloc(32, 1),
      format: 'raw-private',
      asymmetricKeyType: 'x25519',
    });
    return true;
  } catch {
    return false;
  }
}

/** Whether this runtime has the raw key formats; tests may force the DER path. */
export const keyImport = { raw: probeRawFormats() };

/** A private key from its seed (ML-KEM-768: d‖z, 64 bytes) or scalar (X25519: 32 bytes). */
export function importPrivate(secret: Uint8Array, type: KeyType): KeyObject {
  const key = Buffer.from(secret.buffer, secret.byteOffset, secret.length);
  if (keyImport.raw) {
    const format = type === 'x25519' ? 'raw-private' : 'raw-seed';
    return createPrivateKey({ key, format, asymmetricKeyType: type });
  }
  const der = Buffer.concat([DER[type].pkcs8, key]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** A public key from its raw bytes; throws when OpenSSL rejects it. */
export function importPublic(bytes: Uint8Array, type: KeyType): KeyObject {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (keyImport.raw) return createPublicKey({ key, format: 'raw-public', asymmetricKeyType: type });
  if (bytes.length !== DER[type].publicLength) throw new Error('wrong public key length');
  return createPublicKey({
    key: Buffer.concat([DER[type].spki, key]),
    format: 'der',
    type: 'spki',
  });
}

/** The raw public key bytes of a public or private key object. */
export function exportPublic(key: KeyObject, type: KeyType): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (keyImport.raw) return pub.export({ format: 'raw-public' });
  return pub.export({ format: 'der', type: 'spki' }).subarray(DER[type].spki.length);
}
