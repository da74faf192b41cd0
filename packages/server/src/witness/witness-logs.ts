/** The logs a witness follows, from `ORIGIN=VKEY` flags (repeat an origin for each key). */
import {
  isLedgerError,
  type NoteVerifier,
  parseVerifierKey,
  SIGNATURE_TYPES,
  type WitnessLog,
} from '@palisade/ledger';
import { nodeVerifyProvider } from '@palisade/ledger/node';
import { ConfigError } from '../config/index.ts';

/** Key types a log may sign its checkpoints with: Ed25519 (0x01) and ML-DSA-44 (0x06). */
const LOG_KEY_TYPES: ReadonlySet<number> = new Set([
  SIGNATURE_TYPES.ed25519,
  SIGNATURE_TYPES.mldsa44Cosignature,
]);

/**
 * Parses `ORIGIN=VKEY` specs (split at the first `=`) into one {@link WitnessLog} per origin.
 * Throws `ConfigError` naming the bad spec.
 */
export function parseWitnessLogs(specs: readonly string[]): WitnessLog[] {
  const byOrigin = new Map<string, NoteVerifier[]>();
  for (const spec of specs) {
    const at = spec.indexOf('=');
    const origin = at < 0 ? '' : spec.slice(0, at);
    if (origin.length === 0 || /\s/.test(origin))
      throw new ConfigError(`--log ${JSON.stringify(spec)} must be ORIGIN=VKEY`);
    let verifier: NoteVerifier;
    try {
      verifier = parseVerifierKey(spec.slice(at + 1), nodeVerifyProvider);
    } catch (error) {
      if (!isLedgerError(error)) throw error;
      throw new ConfigError(`--log ${origin}: ${error.message}`);
    }
    if (!LOG_KEY_TYPES.has(verifier.type))
      throw new ConfigError(`--log ${origin}: a log key is Ed25519 (0x01) or ML-DSA-44 (0x06)`);
    const verifiers = byOrigin.get(origin) ?? [];
    if (verifiers.some((v) => v.name === verifier.name && v.keyId === verifier.keyId))
      throw new ConfigError(`--log ${origin}: the key ${verifier.name} is given twice`);
    verifiers.push(verifier);
    byOrigin.set(origin, verifiers);
  }
  if (byOrigin.size === 0) throw new ConfigError('a witness needs at least one --log ORIGIN=VKEY');
  return [...byOrigin].map(([origin, verifiers]) => ({ origin, verifiers }));
}
