import { existsSync, readFileSync } from 'node:fs';
import {
  defaultSettings,
  SETTINGS,
  type SettingName,
  type SettingSpec,
  type Settings,
} from './settings.ts';

/** A setting that is missing, unknown or malformed; the message names it and its source. */
export class ConfigError extends Error {
  readonly code = 'PALISADE_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface SettingSources {
  /** Values from command-line flags, keyed by setting name. */
  readonly flags?: Partial<Record<SettingName, string | string[]>>;
  /** The process environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file; `palisade.config.json` in the working directory is read if present; null reads none. */
  readonly configFile?: string | null;
}

type Raw = string | number | string[];

function convert(
  name: SettingName,
  spec: SettingSpec,
  raw: unknown,
  source: string,
): string | number | string[] {
  const fail = (why: string): never => {
    throw new ConfigError(`setting ${name} (from ${source}): ${why}`);
  };
  let value: string | number | string[];
  if (spec.type === 'integer') {
    const n =
      typeof raw === 'number'
        ? raw
        : typeof raw === 'string' && /^-?\d+$/.test(raw)
          ? Number(raw)
          : Number.NaN;
    if (!Number.isSafeInteger(n)) fail(`must be an integer, got ${JSON.stringify(raw)}`);
    if (spec.minimum !== undefined && n < spec.minimum)
      fail(`must be at least ${spec.minimum}, got ${n}`);
    if (spec.maximum !== undefined && n > spec.maximum)
      fail(`must be at most ${spec.maximum}, got ${n}`);
    value = n;
  } else if (spec.type === 'string-list') {
    const list = Array.isArray(raw)
      ? raw
      : typeof raw === 'string'
        ? raw.split(',')
        : fail('must be a list of strings');
    value = list.map((item) =>
      typeof item === 'string' ? item.trim() : fail('must be a list of strings'),
    );
    // An enum's values hold no comma, so `--role api,worker` reads like the environment's form.
    if (spec.enum !== undefined)
      value = value.flatMap((item) => item.split(',').map((v) => v.trim()));
    if (value.length === 0) fail('must not be empty');
  } else {
    if (typeof raw !== 'string') fail(`must be a string, got ${JSON.stringify(raw)}`);
    value = raw as string;
  }
  const strings = typeof value === 'number' ? [] : Array.isArray(value) ? value : [value];
  for (const s of strings) {
    if (spec.pattern !== undefined && !new RegExp(spec.pattern).test(s))
      fail(`${JSON.stringify(redact(name, s))} is not valid: ${spec.doc}`);
    if (spec.enum !== undefined && !spec.enum.includes(s))
      fail(`must be one of ${spec.enum.join(', ')}, got ${JSON.stringify(s)}`);
  }
  return value;
}

function redact(name: SettingName, value: string): string {
  const secret: readonly SettingName[] = ['adminToken', 'masterKey', 'masterPassphrase'];
  return secret.includes(name) ? '<redacted>' : value;
}

function readConfigFile(path: string, explicit: boolean): Record<string, unknown> {
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError(`config file ${path} does not exist`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object of settings`);
  }
  for (const key of Object.keys(parsed)) {
    if (!Object.hasOwn(SETTINGS, key)) {
      throw new ConfigError(
        `config file ${path}: unknown setting ${JSON.stringify(key)}; known: ${Object.keys(SETTINGS).join(', ')}`,
      );
    }
  }
  return parsed as Record<string, unknown>;
}

/** Resolves and validates every setting; throws ConfigError naming the first bad one. */
export function loadSettings(sources: SettingSources = {}): Settings {
  const env = sources.env ?? {};
  const filePath = sources.configFile ?? 'palisade.config.json';
  const file =
    sources.configFile === null ? {} : readConfigFile(filePath, sources.configFile !== undefined);
  const resolved: Record<string, unknown> = defaultSettings();
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
    const fromFlag = sources.flags?.[name];
    const fromEnv = env[spec.env];
    let raw: { value: unknown; source: string } | undefined;
    if (fromFlag !== undefined) raw = { value: fromFlag, source: `--${spec.flag}` };
    else if (fromEnv !== undefined && fromEnv !== '') raw = { value: fromEnv, source: spec.env };
    else if (name in file) raw = { value: file[name], source: filePath };
    if (raw !== undefined) resolved[name] = convert(name, spec, raw.value as Raw, raw.source);
  }
  const settings = resolved as unknown as Settings & { shards: string[] | undefined };
  if (settings.rpcTimeoutDefaultMs > settings.rpcTimeoutMaxMs)
    throw new ConfigError(
      `setting rpcTimeoutDefaultMs (${settings.rpcTimeoutDefaultMs}) must be at most rpcTimeoutMaxMs (${settings.rpcTimeoutMaxMs}): lower --rpc-timeout-default-ms or raise --rpc-timeout-max-ms`,
    );
  // Half a certificate would serve plain HTTP where https:// was asked for.
  if ((settings.tlsCert === undefined) !== (settings.tlsKey === undefined)) {
    const [has, lacks] =
      settings.tlsCert === undefined ? ['tlsKey', 'tlsCert'] : ['tlsCert', 'tlsKey'];
    const spec = SETTINGS[lacks as 'tlsCert' | 'tlsKey'];
    throw new ConfigError(
      `setting ${has} needs ${lacks} (--${spec.flag}, ${spec.env}): give both to serve HTTPS, or neither`,
    );
  }
  if (settings.shards === undefined) {
    settings.shards = settings.database === undefined ? ['s1'] : [settings.database];
  }
  return settings as Settings;
}
