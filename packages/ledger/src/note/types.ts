/** Signer and verifier objects for C2SP signed notes. Any implementation can be plugged in. */

/** Signature type bytes assigned by C2SP signed-note and used here. */
export const SIGNATURE_TYPES = {
  /** Ed25519 over the note text (c2sp.org/signed-note). */
  ed25519: 0x01,
  /** Timestamped Ed25519 cosignature, `cosignature/v1` (c2sp.org/tlog-cosignature). */
  ed25519Cosignature: 0x04,
  /** Timestamped ML-DSA-44 cosignature, `subtree/v1` (c2sp.org/tlog-cosignature v1.1). */
  mldsa44Cosignature: 0x06,
} as const;

/** One of the {@link SIGNATURE_TYPES} values. */
export type SignatureType = (typeof SIGNATURE_TYPES)[keyof typeof SIGNATURE_TYPES];

/** Verifies signatures of one key over note texts. */
export interface NoteVerifier {
  /** The key name, as in signature lines. */
  readonly name: string;
  /** The 32-bit key ID. */
  readonly keyId: number;
  /** The signature type byte. */
  readonly type: SignatureType;
  /** True if `signature` (without the 4-byte key ID) is valid over the note `text`. */
  verify(text: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
}

/** Options passed to every signer. */
export interface SignOptions {
  /** POSIX seconds used by cosignature types (ignored by plain Ed25519). */
  readonly timestamp: number;
}

/** Signs note texts with one key. */
export interface NoteSigner {
  /** The key name written in signature lines. */
  readonly name: string;
  /** The 32-bit key ID. */
  readonly keyId: number;
  /** The signature type byte. */
  readonly type: SignatureType;
  /** The signature (without the 4-byte key ID) over the note `text`. */
  sign(text: Uint8Array, options: SignOptions): Uint8Array | Promise<Uint8Array>;
}

/** A signature line found in a note. */
export interface NoteSignature {
  /** The key name. */
  readonly name: string;
  /** The 32-bit key ID. */
  readonly keyId: number;
  /** The signature bytes after the 4-byte key ID. */
  readonly signature: Uint8Array;
}
