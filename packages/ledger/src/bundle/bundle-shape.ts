/**
 * The shape of a bundle, checked before anything in it is verified: a bundle is untrusted
 * JSON, and a missing or mistyped field must be `LEDGER_BAD_BUNDLE` naming it, never a
 * `TypeError` from deep inside the verifier.
 */
import { LedgerError } from '../errors.ts';
import { isSize } from '../merkle/bits.ts';
import type { LedgerBundle } from './bundle.ts';

/** A `LEDGER_BAD_BUNDLE` error. */
export function malformedBundle(message: string): LedgerError {
  return new LedgerError('LEDGER_BAD_BUNDLE', message);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkString(value: unknown, field: string): void {
  if (typeof value !== 'string') throw malformedBundle(`${field} must be a string`);
}

function checkArray(value: unknown, field: string, each: (item: unknown, at: string) => void) {
  if (!Array.isArray(value)) throw malformedBundle(`${field} must be an array`);
  for (let i = 0; i < value.length; i++) each(value[i], `${field}[${i}]`);
}

function checkObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (!isObject(value)) throw malformedBundle(`${field} must be an object`);
}

/** Throws `LEDGER_BAD_BUNDLE` naming the first field that does not have the type it must. */
export function checkBundleShape(bundle: unknown): asserts bundle is LedgerBundle {
  if (!isObject(bundle) || bundle.format !== 'palisade-ledger-bundle/v1')
    throw malformedBundle('not a palisade-ledger-bundle/v1 document');
  if (typeof bundle.tenant !== 'string' || bundle.tenant === '')
    throw malformedBundle('tenant must be a non-empty string');
  checkString(bundle.storedRoot, 'storedRoot');
  checkString(bundle.checkpoint, 'checkpoint');
  const { platform } = bundle;
  checkObject(platform, 'platform');
  if (!isSize(platform.index))
    throw malformedBundle('platform.index must be a non-negative safe integer');
  checkArray(platform.proof, 'platform.proof', checkString);
  checkString(platform.checkpoint, 'platform.checkpoint');
  checkArray(bundle.batches, 'batches', checkString);
  checkArray(bundle.entries, 'entries', (item, at) => {
    checkObject(item, at);
    checkString(item.entry, `${at}.entry`);
    if (item.salt !== null && typeof item.salt !== 'string')
      throw malformedBundle(`${at}.salt must be a string or null`);
  });
  if (bundle.records === null) return;
  if (!Array.isArray(bundle.records)) throw malformedBundle('records must be an array or null');
  checkArray(bundle.records, 'records', (item, at) => {
    checkObject(item, at);
    checkString(item.resource, `${at}.resource`);
  });
}
