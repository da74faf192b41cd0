/** Loads the data files under test/vectors/ (see PROVENANCE.md there). */
import { readFileSync } from 'node:fs';

/** One X-Wing test vector; every value is hex. */
export interface XWingVector {
  readonly seed: string;
  readonly eseed: string;
  readonly ss: string;
  readonly sk: string;
  readonly pk: string;
  readonly ct: string;
}

/** Parses a JSON file under test/vectors/. */
export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

/** Hex to bytes. */
export const hex = (text: string): Buffer => Buffer.from(text, 'hex');
