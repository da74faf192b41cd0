import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseRuleBook } from './parse-rules.ts';
import type { RuleBook } from './rule-types.ts';

/** The node's copy of its rules, so they apply offline and across restarts. */
export const RULES_FILE = 'rules.json';

/** No rules yet: every payload passes untouched. */
export const EMPTY_BOOK: RuleBook = { revision: '', ruleSets: [], devices: [] };

export function rulesPath(dir: string): string {
  return join(dir, RULES_FILE);
}

/** The cached book, or the empty one when there is none; throws RuleSetError when corrupt. */
export function readRuleCache(dir: string): RuleBook {
  let text: string;
  try {
    text = readFileSync(rulesPath(dir), 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return EMPTY_BOOK;
    throw error;
  }
  return parseRuleBook(JSON.parse(text));
}

/** Replaces the cache atomically (write, fsync, rename), mode 0600. */
export function writeRuleCache(dir: string, book: RuleBook): void {
  const path = rulesPath(dir);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(book)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
