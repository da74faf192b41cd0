import {
  type Aggregate,
  FILTER_KEYS_MAX,
  RULES_MAX,
  type Rule,
  type RuleBook,
  type RuleSet,
  WINDOW_MAX_MS,
} from './rule-types.ts';

/** A rule set that is not valid; `path` is the JSON Pointer of the bad field. */
export class RuleSetError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path || '/'} ${message}`);
    this.name = 'RuleSetError';
    this.path = path;
  }
}

/** Telemetry keys as the platform accepts them. */
const KEY = /^[A-Za-z0-9_.:-]{1,128}$/;
const AGGREGATES: readonly Aggregate[] = ['mean', 'min', 'max', 'sum', 'count', 'last'];
const FIELDS: Record<Rule['kind'], readonly string[]> = {
  filter: ['keep', 'drop'],
  rename: ['from', 'to'],
  scale: ['key', 'factor', 'offset'],
  deadband: ['key', 'delta'],
  downsample: ['key', 'windowMs', 'aggregate'],
  alert: ['name', 'key', 'above', 'below'],
};

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RuleSetError(path, 'must be an object');
  return value as Record<string, unknown>;
}

function key(value: unknown, path: string): string {
  if (typeof value !== 'string' || !KEY.test(value))
    throw new RuleSetError(path, 'must be a telemetry key: 1-128 characters of [A-Za-z0-9_.:-]');
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RuleSetError(path, 'must be a finite number');
  return value;
}

function keys(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > FILTER_KEYS_MAX)
    throw new RuleSetError(path, `must be an array of 1-${FILTER_KEYS_MAX} keys`);
  return value.map((k, i) => key(k, `${path}/${i}`));
}

function rule(value: unknown, at: string): Rule {
  const r = object(value, at);
  const kind = r.kind as Rule['kind'];
  const fields = FIELDS[kind];
  if (typeof kind !== 'string' || fields === undefined)
    throw new RuleSetError(`${at}/kind`, `must be one of ${Object.keys(FIELDS).join(', ')}`);
  const extra = Object.keys(r).find((k) => k !== 'kind' && !fields.includes(k));
  if (extra !== undefined) throw new RuleSetError(`${at}/${extra}`, `is not a field of ${kind}`);
  switch (kind) {
    case 'filter': {
      if ((r.keep === undefined) === (r.drop === undefined))
        throw new RuleSetError(at, 'a filter names exactly one of keep or drop');
      return r.keep === undefined
        ? { kind, drop: keys(r.drop, `${at}/drop`) }
        : { kind, keep: keys(r.keep, `${at}/keep`) };
    }
    case 'rename':
      return { kind, from: key(r.from, `${at}/from`), to: key(r.to, `${at}/to`) };
    case 'scale':
      return {
        kind,
        key: key(r.key, `${at}/key`),
        factor: finite(r.factor, `${at}/factor`),
        offset: r.offset === undefined ? 0 : finite(r.offset, `${at}/offset`),
      };
    case 'deadband': {
      const delta = finite(r.delta, `${at}/delta`);
      if (delta < 0) throw new RuleSetError(`${at}/delta`, 'must be 0 or more');
      return { kind, key: key(r.key, `${at}/key`), delta };
    }
    case 'downsample': {
      const windowMs = r.windowMs;
      if (
        !Number.isSafeInteger(windowMs) ||
        (windowMs as number) < 1 ||
        (windowMs as number) > WINDOW_MAX_MS
      )
        throw new RuleSetError(`${at}/windowMs`, `must be an integer of 1-${WINDOW_MAX_MS} ms`);
      if (!AGGREGATES.includes(r.aggregate as Aggregate))
        throw new RuleSetError(`${at}/aggregate`, `must be one of ${AGGREGATES.join(', ')}`);
      return {
        kind,
        key: key(r.key, `${at}/key`),
        windowMs: windowMs as number,
        aggregate: r.aggregate as Aggregate,
      };
    }
    case 'alert': {
      const above = r.above === undefined ? undefined : finite(r.above, `${at}/above`);
      const below = r.below === undefined ? undefined : finite(r.below, `${at}/below`);
      if (above === undefined && below === undefined)
        throw new RuleSetError(at, 'an alert names above, below or both');
      if (above !== undefined && below !== undefined && below >= above)
        throw new RuleSetError(`${at}/below`, 'must be less than above');
      return {
        kind,
        name: key(r.name, `${at}/name`),
        key: key(r.key, `${at}/key`),
        ...(above === undefined ? {} : { above }),
        ...(below === undefined ? {} : { below }),
      };
    }
  }
}

/** Checks a rule list (as sent to the platform or read from the cache); throws RuleSetError. */
export function parseRules(value: unknown, at = ''): Rule[] {
  if (!Array.isArray(value) || value.length > RULES_MAX)
    throw new RuleSetError(at, `must be an array of at most ${RULES_MAX} rules`);
  const rules = value.map((r, i) => rule(r, `${at}/${i}`));
  const names = new Set<string>();
  rules.forEach((r, i) => {
    if (r.kind !== 'alert') return;
    if (names.has(r.name)) throw new RuleSetError(`${at}/${i}/name`, 'is used by another alert');
    names.add(r.name);
  });
  return rules;
}

/** Checks a rule book (the platform's answer, or the node's cache). */
export function parseRuleBook(value: unknown): RuleBook {
  const book = object(value, '');
  if (typeof book.revision !== 'string') throw new RuleSetError('/revision', 'must be a string');
  if (!Array.isArray(book.ruleSets)) throw new RuleSetError('/ruleSets', 'must be an array');
  const ruleSets = book.ruleSets.map((s, i): RuleSet => {
    const set = object(s, `/ruleSets/${i}`);
    if (typeof set.deviceType !== 'string' || set.deviceType === '')
      throw new RuleSetError(`/ruleSets/${i}/deviceType`, 'must be a non-empty string');
    if (typeof set.updatedAt !== 'string')
      throw new RuleSetError(`/ruleSets/${i}/updatedAt`, 'must be a string');
    return {
      deviceType: set.deviceType,
      rules: parseRules(set.rules, `/ruleSets/${i}/rules`),
      updatedAt: set.updatedAt,
    };
  });
  if (!Array.isArray(book.devices)) throw new RuleSetError('/devices', 'must be an array');
  const devices = book.devices.map((d, i) => {
    const device = object(d, `/devices/${i}`);
    if (typeof device.id !== 'string' || typeof device.type !== 'string')
      throw new RuleSetError(`/devices/${i}`, 'must have a string id and type');
    return { id: device.id, type: device.type };
  });
  return { revision: book.revision, ruleSets, devices };
}
