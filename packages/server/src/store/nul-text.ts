/**
 * The JSON Pointer, relative to `value`, of the first key or string that contains U+0000;
 * undefined when none does. Allocates only along the path it finds. PostgreSQL cannot store
 * U+0000 in text or jsonb, so no backend takes it: JSON bodies and records are checked.
 */
export function nulPath(value: unknown): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? '' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i]);
      if (found !== undefined) return `/${i}${found}`;
    }
    return undefined;
  }
  for (const key in value) {
    const found = key.includes('\u0000') ? '' : nulPath((value as Record<string, unknown>)[key]);
    if (found !== undefined) return `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}${found}`;
  }
  return undefined;
}
