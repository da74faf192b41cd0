/** The native X-Wing of src/ behind the stateless {@link XWingBytesApi} shape. */
import { XWingSecretKey, xwingEncapsulate } from '../../src/index.ts';
import type { XWingBytesApi } from './noble-xwing.ts';

/** Native X-Wing (node:crypto, OpenSSL 3.5). */
export const nativeXWing: XWingBytesApi = {
  name: 'node:crypto (OpenSSL ML-KEM-768 + X25519)',
  publicKeyFromSeed: (seed) => {
    const key = XWingSecretKey.fromSeed(seed);
    key.destroy();
    return key.publicKey;
  },
  encapsulate: xwingEncapsulate,
  decapsulate: (seed, ciphertext) => {
    const key = XWingSecretKey.fromSeed(seed);
    try {
      return key.decapsulate(ciphertext);
    } finally {
      key.destroy();
    }
  },
};
