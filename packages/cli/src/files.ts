import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { CliError } from './cli-error.ts';

/** A file-system error as its code (ENOENT, EACCES, EISDIR…), else its message. */
export function fileError(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).message;
}

/**
 * Replaces `path` atomically (write, fsync, rename), so it is never left half-written; a
 * failure is a CliError naming the file.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const temporary = `${path}.tmp`;
  try {
    const fd = openSync(temporary, 'w', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    throw new CliError(
      `cannot write ${path} (${fileError(error)}); check the path and that it is writable`,
    );
  }
}
