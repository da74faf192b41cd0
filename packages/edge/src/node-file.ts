import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeIdentity } from './sync.ts';

/** Everything an enrolled node keeps in `DIR/node.json` (mode 0600): identity and outbox key. */
export interface NodeFile extends NodeIdentity {
  readonly version: 1;
  readonly keyVersion: number;
  readonly enrolledAt: string;
  /** The AES-256 key of the outbox, base64. */
  readonly outboxKey: string;
}

/** The file names inside a node directory. */
export const NODE_FILE = 'node.json';
export const OUTBOX_FILE = 'outbox.db';

export function nodeFilePath(dir: string): string {
  return join(dir, NODE_FILE);
}

export function outboxPath(dir: string): string {
  return join(dir, OUTBOX_FILE);
}

/** A fresh 32-byte outbox key. */
export function newOutboxKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * Writes the node file with mode 0600; fails with `EEXIST` if one is there, so an
 * enrollment is never overwritten.
 */
export function writeNodeFile(dir: string, node: NodeFile): void {
  writeFileSync(nodeFilePath(dir), `${JSON.stringify(node, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
}

/**
 * Replaces the node file of a re-keyed node (mode 0600) in one rename, so that a crash leaves
 * the old file or the new one, never a part of either.
 */
export function replaceNodeFile(dir: string, node: NodeFile): void {
  const next = `${nodeFilePath(dir)}.next`;
  const fd = openSync(next, 'w', 0o600);
  try {
    writeFileSync(fd, `${JSON.stringify(node, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(next, nodeFilePath(dir));
}

const STRING_FIELDS = ['url', 'nodeId', 'credential', 'ed25519', 'mldsa65', 'outboxKey'] as const;

/** Reads and checks the node file; throws an Error naming the bad field. */
export function readNodeFile(dir: string): NodeFile {
  const value = JSON.parse(readFileSync(nodeFilePath(dir), 'utf8')) as Record<string, unknown>;
  if (value.version !== 1) throw new Error(`${NODE_FILE}: unsupported version`);
  for (const field of STRING_FIELDS)
    if (typeof value[field] !== 'string' || value[field] === '')
      throw new Error(`${NODE_FILE}: ${field} is missing or not a string`);
  if (Buffer.from(value.outboxKey as string, 'base64').length !== 32)
    throw new Error(`${NODE_FILE}: outboxKey is not 32 bytes of base64`);
  return value as unknown as NodeFile;
}
