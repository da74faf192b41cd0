import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { NodeFile } from '../node-file.ts';
import { readNodeFile } from '../node-file.ts';
import { CliError, EXIT } from './cli-error.ts';

type Options = Record<string, { type: 'string' | 'boolean' }>;

/** Parses a command's flags; unknown flags or stray arguments are usage errors. */
export function flags<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliError(`${(error as Error).message}; see palisade-edge --help`, EXIT.usage);
  }
}

/** A required string flag. */
export function required(value: string | boolean | undefined, name: string): string {
  if (typeof value !== 'string' || value === '')
    throw new CliError(`--${name} is required; see palisade-edge --help`, EXIT.usage);
  return value;
}

/** An optional positive integer flag, or its default. */
export function positiveInt(
  value: string | boolean | undefined,
  name: string,
  def: number,
): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isSafeInteger(n) || n < 1)
    throw new CliError(`--${name} must be a positive integer, got ${String(value)}`, EXIT.usage);
  return n;
}

/** The node file of an enrolled directory, or a failure saying to enroll first. */
export function enrolledNode(dir: string): NodeFile {
  if (!existsSync(dir) || !existsSync(`${dir}/node.json`))
    throw new CliError(
      `${dir}/node.json not found: this directory holds no enrolled node; run palisade-edge enroll --url URL --token TOKEN --dir ${dir} first`,
    );
  try {
    return readNodeFile(dir);
  } catch (error) {
    throw new CliError(
      `${dir}/node.json is unreadable (${(error as Error).message}); restore it from backup or enroll again into a new --dir`,
    );
  }
}
