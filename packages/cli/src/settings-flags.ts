import type { ParseArgsConfig } from 'node:util';
import { SETTINGS, type SettingName } from '@palisade/server';

type Options = NonNullable<ParseArgsConfig['options']>;

/** One `--flag` per server setting, named as in the settings table. */
export function settingOptions(): Options {
  const options: Options = { config: { type: 'string' } };
  for (const spec of Object.values(SETTINGS)) {
    options[spec.flag] =
      spec.type === 'string-list' ? { type: 'string', multiple: true } : { type: 'string' };
  }
  return options;
}

/** Parsed flag values keyed by setting name, for `loadSettings`. */
export function settingFlags(
  values: Record<string, unknown>,
): Partial<Record<SettingName, string | string[]>> {
  const flags: Partial<Record<SettingName, string | string[]>> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [
    SettingName,
    (typeof SETTINGS)[SettingName],
  ][]) {
    const value = values[spec.flag];
    if (typeof value === 'string' || Array.isArray(value)) flags[name] = value as string | string[];
  }
  return flags;
}
