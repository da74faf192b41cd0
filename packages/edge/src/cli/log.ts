/** Severity of a log line. */
export type Level = 'info' | 'warn' | 'error';

/** Writes one structured JSON log line to stdout (`time`, `level`, `event`, then fields). */
export function log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })}\n`,
  );
}
