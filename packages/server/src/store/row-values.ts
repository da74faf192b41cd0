/**
 * The two backends hand back the same columns in different JavaScript shapes: SQLite gives
 * timestamps and JSON as text, PostgreSQL gives `Date`s and parsed `jsonb`. Mappers shared by
 * both stores normalize through these.
 */

export function iso(value: string | Date): string {
  return typeof value === 'string' ? value : value.toISOString();
}

export function json<T>(value: string | T): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}
