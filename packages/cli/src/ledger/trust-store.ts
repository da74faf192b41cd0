/**
 * What online verification remembers (trust on first use), so that a rewritten history, or a
 * server that starts showing another log, is caught on the next run. It is keyed only by what
 * the auditor controls: the server's URL and the credential sent to it (by a one-way
 * fingerprint, never the credential itself). The tenant, platform origin, keys and checkpoint
 * are what the server showed, remembered to be compared with, never used to pick an entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from '../cli-error.ts';
import { writeFileAtomic } from '../files.ts';

/** A tenant log as last verified at one server. */
export interface TrustedLog {
  /** The origin of the platform log the tenant log is anchored in. */
  readonly origin: string;
  /** Tenant log size (batches) at the verified checkpoint. */
  readonly size: number;
  /** The signed tenant root (base64). */
  readonly root: string;
  /** The vkeys it was verified with. */
  readonly keys: readonly string[];
  /** The signed platform checkpoint it was anchored in; absent in first-format entries. */
  readonly platformCheckpoint?: string;
}

/** What the server at one URL showed: each tenant's log, and the tenant each credential saw. */
interface ServerTrust {
  readonly tenants: Record<string, TrustedLog>;
  readonly credentials: Record<string, string>;
}

/** A first-format entry, keyed by `<platform origin>/tenant/<tenant id>` as the server said. */
type FirstFormatEntry = Omit<TrustedLog, 'origin' | 'platformCheckpoint'>;

interface TrustFile {
  readonly version: 2;
  /** By normalized server URL. */
  readonly servers: Record<string, ServerTrust>;
  /** First-format entries not used since: each moves under its server when it is. */
  readonly firstFormat: Record<string, FirstFormatEntry>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function trustFilePath(): string {
  return join(
    process.env.PALISADE_HOME ?? join(homedir(), '.palisade'),
    'trusted-checkpoints.json',
  );
}

/** The file's content; a first-format file (no `version`) becomes `firstFormat`. */
function parseTrustFile(text: string): TrustFile {
  const file: unknown = JSON.parse(text);
  if (!isObject(file)) throw new Error('not a JSON object');
  if (file.version === undefined)
    return { version: 2, servers: {}, firstFormat: file as Record<string, FirstFormatEntry> };
  if (file.version !== 2)
    throw new Error(`version ${JSON.stringify(file.version)} is not one this palisade reads`);
  if (!isObject(file.servers) || !isObject(file.firstFormat))
    throw new Error('servers and firstFormat must be objects');
  return file as unknown as TrustFile;
}

/** The server part of a URL as the pins are keyed: scheme, host, port and path, normalized. */
export function serverKey(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** A credential's fingerprint: SHA-256 under a label of its own, unlike any server-side hash. */
function fingerprint(credential: string): string {
  return createHash('sha256')
    .update(`palisade trusted-checkpoints credential\n${credential}`)
    .digest('base64url');
}

/** The remembered logs, read from and saved to `trusted-checkpoints.json` in PALISADE_HOME. */
export class TrustStore {
  readonly #path: string;
  readonly #file: TrustFile;

  private constructor(path: string, file: TrustFile) {
    this.#path = path;
    this.#file = file;
  }

  /**
   * The store; empty only when the file does not exist. A damaged file is an error, never a
   * first use: that would let a rewritten history through.
   */
  static read(): TrustStore {
    const path = trustFilePath();
    try {
      return new TrustStore(path, parseTrustFile(readFileSync(path, 'utf8')));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT')
        return new TrustStore(path, { version: 2, servers: {}, firstFormat: {} });
      throw new CliError(
        `the trusted checkpoints in ${path} are unreadable (${(error as Error).message}); restore it from a backup, or move it away to trust the log afresh as on first use`,
      );
    }
  }

  /** The tenant whose ledger the server at `server` showed `credential` before. */
  tenantOf(server: string, credential: string): string | undefined {
    return this.#file.servers[server]?.credentials[fingerprint(credential)];
  }

  /**
   * The log of `tenant` remembered at `server`; else a first-format entry for `origin` (what
   * the server says its origin is), which can only add a check, never skip one.
   */
  log(server: string, tenant: string, origin: string): TrustedLog | undefined {
    const known = this.#file.servers[server]?.tenants[tenant];
    if (known !== undefined) return known;
    const entry = this.#file.firstFormat[`${origin}/tenant/${tenant}`];
    return entry === undefined ? undefined : { ...entry, origin };
  }

  /** Remembers `log` as what the server at `server` showed `credential` for `tenant`. */
  remember(server: string, credential: string, tenant: string, log: TrustedLog): void {
    const { servers, firstFormat } = this.#file;
    const trust = servers[server] ?? { tenants: {}, credentials: {} };
    servers[server] = trust;
    trust.tenants[tenant] = log;
    trust.credentials[fingerprint(credential)] = tenant;
    delete firstFormat[`${log.origin}/tenant/${tenant}`];
  }

  save(): void {
    mkdirSync(dirname(this.#path), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.#path, `${JSON.stringify(this.#file, null, 2)}\n`, 0o600);
  }
}
