/**
 * X-Wing (draft-connolly-cfrg-xwing-kem): the hybrid KEM ML-KEM-768 + X25519 whose shared
 * secret is SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ "\.//^\"). It stays secure while either
 * half does.
 *
 * Built from Node 24's native primitives (OpenSSL 3.5): ML-KEM-768 via `crypto.encapsulate`
 * / `crypto.decapsulate`, X25519 via `crypto.diffieHellman`, SHAKE256 and SHA3-256 via
 * `crypto.createHash`. The 32-byte decapsulation key (seed) is expanded with SHAKE256 to 96
 * bytes: the first 64 are the ML-KEM seed d‖z, imported with the `raw-seed` key format
 * (OpenSSL runs ML-KEM.KeyGen_internal(d, z) on import; PKCS#8 `seed` form on Node < 24.15,
 * see key-import.ts), the last 32 are the X25519 private key.
 *
 * Measured against @noble/post-quantum's `ml_kem768_x25519` in bench/crypto-primitives.ts;
 * both pass the draft's test vectors (test/xwing.test.ts).
 */
import {
  createHash,
  decapsulate,
  diffieHellman,
  encapsulate,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { freshRandom, revealSecret, SecretKey } from '../keys/secret-key.ts';
import { exportPublic, importPrivate, importPublic } from './key-import.ts';

/** Length of an X-Wing decapsulation key (seed). */
export const XWING_SEED_LENGTH = 32;
/** Length of an X-Wing encapsulation (public) key: ML-KEM-768 pk ‖ X25519 pk. */
export const XWING_PUBLIC_KEY_LENGTH = 1216;
/** Length of an X-Wing ciphertext: ML-KEM-768 ct ‖ X25519 ephemeral pk. */
export const XWING_CIPHERTEXT_LENGTH = 1120;
/** Length of the X-Wing shared secret. */
export const XWING_SHARED_SECRET_LENGTH = 32;

const MLKEM_PUBLIC_KEY_LENGTH = 1184;
const MLKEM_CIPHERTEXT_LENGTH = 1088;
/** The draft's label `\.//^\`. */
const XWING_LABEL = Buffer.from('5c2e2f2f5e5c', 'hex');

/** The result of an encapsulation: a shared secret and the ciphertext that conveys it. */
export interface XWingEncapsulation {
  readonly sharedSecret: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** An encapsulation function; injectable so tests can pin the randomness. */
export type XWingEncapsulate = (publicKey: Uint8Array) => XWingEncapsulation;

/** The X-Wing combiner: SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ label). */
function combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Buffer {
  return createHash('sha3-256')
    .update(ssM)
    .update(ssX)
    .update(ctX)
    .update(pkX)
    .update(XWING_LABEL)
    .digest();
}

function importPeer(bytes: Uint8Array, type: 'ml-kem-768' | 'x25519'): KeyObject {
  try {
    return importPublic(bytes, type);
  } catch {
    throw new CryptoError('CRYPTO_BAD_KEY', `the X-Wing public key has an invalid ${type} part`);
  }
}

/** Encapsulates a fresh shared secret to an X-Wing public key (1216 bytes). */
export function xwingEncapsulate(publicKey: Uint8Array): XWingEncapsulation {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== XWING_PUBLIC_KEY_LENGTH) {
    throw new CryptoError(
      'CRYPTO_BAD_KEY',
      `an X-Wing public key is ${XWING_PUBLIC_KEY_LENGTH} bytes`,
    );
  }
  const pkX = publicKey.subarray(MLKEM_PUBLIC_KEY_LENGTH);
  const mlkem = importPeer(publicKey.subarray(0, MLKEM_PUBLIC_KEY_LENGTH), 'ml-kem-768');
  const x25519 = importPeer(pkX, 'x25519');
  const { sharedKey: ssM, ciphertext: ctM } = encapsulate(mlkem);
  const ephemeral = generateKeyPairSync('x25519');
  const ctX = exportPublic(ephemeral.publicKey, 'x25519');
  let ssX: Buffer;
  try {
    ssX = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: x25519 });
  } catch {
    ssM.fill(0);
    throw new CryptoError('CRYPTO_BAD_KEY', 'the X-Wing public key has a low-order X25519 part');
  }
  const sharedSecret = combine(ssM, ssX, ctX, pkX);
  ssM.fill(0);
  ssX.fill(0);
  return { sharedSecret, ciphertext: Buffer.concat([ctM, ctX]) };
}

/**
 * An X-Wing decapsulation key: the 32-byte seed (secret, redacted when printed) plus the
 * derived public key and the native key objects, expanded once at construction.
 */
export class XWingSecretKey extends SecretKey {
  protected readonly kind = 'XWingSecretKey';
  /** The 1216-byte encapsulation key to publish. */
  readonly publicKey: Uint8Array;
  readonly #mlkem: KeyObject;
  readonly #x25519: KeyObject;

  private constructor(seed: Uint8Array) {
    super(seed, XWING_SEED_LENGTH);
    const expanded = createHash('shake256', { outputLength: 96 }).update(seed).digest();
    try {
      this.#mlkem = importPrivate(expanded.subarray(0, 64), 'ml-kem-768');
      this.#x25519 = importPrivate(expanded.subarray(64, 96), 'x25519');
    } finally {
      expanded.fill(0);
    }
    this.publicKey = Buffer.concat([
      exportPublic(this.#mlkem, 'ml-kem-768'),
      exportPublic(this.#x25519, 'x25519'),
    ]);
  }

  /** A new random key pair. */
  static generate(): XWingSecretKey {
    const seed = freshRandom(XWING_SEED_LENGTH);
    try {
      return new XWingSecretKey(seed);
    } finally {
      seed.fill(0);
    }
  }

  /** The key pair derived from a 32-byte seed (copied: zero your copy when done). */
  static fromSeed(seed: Uint8Array): XWingSecretKey {
    return new XWingSecretKey(seed);
  }

  /** A copy of the 32-byte seed, e.g. to seal it; zero it when done. */
  exportSeed(): Buffer {
    return Buffer.from(revealSecret(this));
  }

  /**
   * Recovers the shared secret from a 1120-byte ciphertext. A malformed ML-KEM part yields
   * an unrelated secret (implicit rejection); a wrong length or a low-order X25519 part
   * throws `CRYPTO_DECRYPT_FAILED`.
   */
  decapsulate(ciphertext: Uint8Array): Buffer {
    revealSecret(this); // throws once destroyed
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== XWING_CIPHERTEXT_LENGTH) {
      throw new CryptoError(
        'CRYPTO_DECRYPT_FAILED',
        `an X-Wing ciphertext is ${XWING_CIPHERTEXT_LENGTH} bytes`,
      );
    }
    const ctX = ciphertext.subarray(MLKEM_CIPHERTEXT_LENGTH);
    const ssM = decapsulate(this.#mlkem, ciphertext.subarray(0, MLKEM_CIPHERTEXT_LENGTH));
    let ssX: Buffer;
    try {
      ssX = diffieHellman({ privateKey: this.#x25519, publicKey: importPeer(ctX, 'x25519') });
    } catch {
      ssM.fill(0);
      throw new CryptoError(
        'CRYPTO_DECRYPT_FAILED',
        'the X-Wing ciphertext has a low-order X25519 part',
      );
    }
    const sharedSecret = combine(ssM, ssX, ctX, this.publicKey.subarray(MLKEM_PUBLIC_KEY_LENGTH));
    ssM.fill(0);
    ssX.fill(0);
    return sharedSecret;
  }
}
