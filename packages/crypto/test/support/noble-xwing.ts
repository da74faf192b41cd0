/**
 * @noble/post-quantum's X-Wing (`ml_kem768_x25519`, a devDependency) behind the same shape as
 * the native implementation: the test oracle, and the peer in bench/crypto-primitives.ts.
 */
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import type { XWingEncapsulate, XWingEncapsulation } from '../../src/index.ts';

/** Stateless X-Wing operations over raw bytes. */
export interface XWingBytesApi {
  readonly name: string;
  /** The 1216-byte public key of a 32-byte seed. */
  publicKeyFromSeed(seed: Uint8Array): Uint8Array;
  encapsulate(publicKey: Uint8Array): XWingEncapsulation;
  /** Decapsulation from the 32-byte seed (expands it each call). */
  decapsulate(seed: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/** noble's X-Wing. */
export const nobleXWing: XWingBytesApi = {
  name: '@noble/post-quantum ml_kem768_x25519',
  publicKeyFromSeed: (seed) => ml_kem768_x25519.keygen(seed).publicKey,
  encapsulate: (publicKey) => {
    const { sharedSecret, cipherText } = ml_kem768_x25519.encapsulate(publicKey);
    return { sharedSecret, ciphertext: cipherText };
  },
  decapsulate: (seed, ciphertext) => ml_kem768_x25519.decapsulate(ciphertext, seed),
};

/** A derandomized encapsulation (the draft's EncapsulateDerand) for known-answer tests. */
export function encapsulateWithSeed(eseed: Uint8Array): XWingEncapsulate {
  return (publicKey) => {
    const { sharedSecret, cipherText } = ml_kem768_x25519.encapsulate(publicKey, eseed);
    return { sharedSecret, ciphertext: cipherText };
  };
}
