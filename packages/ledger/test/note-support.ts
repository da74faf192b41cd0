/** Re-exports for note tests plus a key-ID formatter. */
export {
  cosignatureTimestamp,
  fromBase64,
  isLedgerError,
  type LedgerErrorCode,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
} from '../src/index.ts';

/** A key ID as 8 lowercase hex digits. */
export function readKeyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}
