import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BundleProgress,
  type BundleSummary,
  fromBase64,
  isLedgerError,
  type LedgerBundle,
  parseVerifierKey,
  verifyBundle,
  verifyConsistency,
} from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import { type Connection, callApi, connectionFrom } from '../api-client.ts';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { resolveTenant } from './tenant-command.ts';

const USAGE = `usage: palisade ledger <command>
  keys [--out FILE]                            the platform's verifier keys (C2SP vkeys)
  export --tenant ID|SLUG --out FILE           a tenant's whole ledger, for offline verification (admin token)
  verify BUNDLE --keys FILE                    verify an exported bundle offline
  verify --url URL --token TENANT_KEY [--keys FILE]
                                               verify online, remembering the last trusted checkpoint in ~/.palisade/
  verify … --witness-quorum N                  also require N witnesses whose vkeys --keys FILE holds to have cosigned
verify exits 0 when the ledger verifies, 1 when it does not (the first failure named), 2 on a
usage error or a bundle or keys file that cannot be read, 3 when the server cannot be reached.`;

/** `1 batch`, `2 batches`: a count with its noun. */
function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * What the bundle left out because the exporter may not read it, so was not checked: whole
 * collections by name, and single records counted per collection.
 */
function notChecked(summary: BundleSummary): string {
  const collections = summary.withheldCollections ?? [];
  const parts = collections.length === 0 ? [] : [`the records of ${collections.join(', ')}`];
  const perCollection = new Map<string, number>();
  for (const resource of summary.withheldRecords ?? []) {
    const collection = resource.split('/')[1]!;
    perCollection.set(collection, (perCollection.get(collection) ?? 0) + 1);
  }
  for (const [collection, n] of perCollection)
    parts.push(`${count(n, 'record', 'records')} of ${collection}`);
  return parts.length === 0
    ? ''
    : ` (not checked: ${parts.join(' and ')}, which this credential may not read)`;
}

/** The summary line's counts: entries, batches, and the records that match (when included). */
function counted(summary: BundleSummary): string {
  const records =
    summary.records === null
      ? 'records not included'
      : count(summary.records, 'record matches', 'records match') + notChecked(summary);
  return `${count(summary.entries, 'entry', 'entries')} in ${count(summary.size, 'batch', 'batches')}, ${records}`;
}

/** Remembered checkpoints, so a rewritten history is caught on the next online run. */
interface TrustStore {
  [origin: string]: { size: number; root: string; keys: string[] };
}

function trustStorePath(): string {
  return join(
    process.env.PALISADE_HOME ?? join(homedir(), '.palisade'),
    'trusted-checkpoints.json',
  );
}

/**
 * The remembered checkpoints; none only when the file does not exist. A damaged file is an
 * error, never a first use: that would let a rewritten history through.
 */
function readTrustStore(): TrustStore {
  const path = trustStorePath();
  try {
    const store: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof store !== 'object' || store === null || Array.isArray(store))
      throw new Error('not a JSON object');
    return store as TrustStore;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return {};
    throw new CliError(
      `the trusted checkpoints in ${path} are unreadable (${(error as Error).message}); restore it from a backup, or move it away to trust the log afresh as on first use`,
    );
  }
}

/**
 * Replaces `path` atomically (write, fsync, rename), so it is never left half-written; a
 * failure is a CliError naming the file.
 */
function writeFile(path: string, text: string, mode = 0o644): void {
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
    const code = (error as { code?: string }).code ?? (error as Error).message;
    throw new CliError(`cannot write ${path} (${code}); check the path and that it is writable`);
  }
}

function writeTrustStore(store: TrustStore): void {
  const path = trustStorePath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFile(path, `${JSON.stringify(store, null, 2)}\n`, 0o600);
}

/** A file-system error as its code (ENOENT, EACCES, EISDIR…), else its message. */
function fileError(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).message;
}

/**
 * The bundle at `path`. A file that cannot be read is a usage error (exit 2); one that is not
 * JSON fails verification (exit 1) like any other malformed bundle.
 */
function readBundle(path: string): LedgerBundle {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the bundle ${path} (${fileError(error)}); export one with: palisade ledger export --tenant ID|SLUG --out ${path}`,
      EXIT.usage,
    );
  }
  try {
    return JSON.parse(text) as LedgerBundle;
  } catch (error) {
    throw new CliError(
      `ledger verification FAILED (LEDGER_BAD_BUNDLE): ${path} is not JSON (${(error as Error).message})`,
      EXIT.failed,
    );
  }
}

function readVkeys(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the keys file ${path} (${fileError(error)}); get one with: palisade ledger keys --out ${path}`,
      EXIT.usage,
    );
  }
  const vkeys: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      parseVerifierKey(line, nodeVerifyProvider);
    } catch (error) {
      if (!isLedgerError(error)) throw error;
      throw new CliError(
        `${path} line ${index + 1} is not a vkey (${error.message}); get the platform's keys with: palisade ledger keys --out ${path}`,
        EXIT.usage,
      );
    }
    vkeys.push(line);
  }
  if (vkeys.length === 0)
    throw new CliError(
      `${path} holds no vkeys; get the platform's keys with: palisade ledger keys --out ${path}`,
      EXIT.usage,
    );
  return vkeys;
}

function progressPrinter(): BundleProgress {
  let last = '';
  return (phase, done, total) => {
    const line = `verifying ${phase}: ${done}/${total}`;
    if (process.stderr.isTTY && line !== last) process.stderr.write(`\r${line}   `);
    last = line;
  };
}

/** The `--witness-quorum` count; 0 (none required) when not given. */
function witnessQuorum(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new CliError(
      `--witness-quorum ${JSON.stringify(value)} is not a count of witnesses, e.g. --witness-quorum 2`,
      EXIT.usage,
    );
  return Number(value);
}

/** What the summary says of witnesses: how many of those trusted cosigned, and the policy. */
function witnessed(summary: BundleSummary, vkeys: readonly string[], quorum: number): string {
  const trusted = new Set(
    vkeys
      .map((vkey) => vkey.slice(0, vkey.indexOf('+')))
      .filter((n) => n !== summary.platformOrigin),
  );
  if (trusted.size === 0) return 'no witness vkeys given, so no witness cosignature checked';
  const names = summary.witnesses.length === 0 ? '' : ` (${summary.witnesses.join(', ')})`;
  const policy = quorum === 0 ? 'none required' : `${quorum} required`;
  return `cosigned by ${summary.witnesses.length} of ${count(trusted.size, 'trusted witness', 'trusted witnesses')}${names}, ${policy}`;
}

async function verify(bundle: LedgerBundle, vkeys: readonly string[], quorum: number) {
  const verifiers = vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider));
  try {
    return await verifyBundle(nodeHasher, bundle, verifiers, {
      progress: progressPrinter(),
      witnessQuorum: quorum,
    });
  } catch (error) {
    if (isLedgerError(error))
      throw new CliError(
        `ledger verification FAILED (${error.code}): ${error.message}`,
        EXIT.failed,
      );
    throw error;
  } finally {
    if (process.stderr.isTTY) process.stderr.write('\r');
  }
}

async function verifyOnline(
  connection: Connection,
  keysFile: string | undefined,
  quorum: number,
): Promise<string> {
  const store = readTrustStore();
  const bundle = await callApi<LedgerBundle>(connection, 'GET', '/v1/ledger/export');
  const published = await callApi<{ origin: string; keys: string[] }>(
    connection,
    'GET',
    '/v1/platform/ledger/keys',
  );
  const origin = `${published.origin}/tenant/${bundle.tenant}`;
  const remembered = store[origin];
  const vkeys = keysFile !== undefined ? readVkeys(keysFile) : (remembered?.keys ?? published.keys);
  const summary = await verify(bundle, vkeys, quorum);
  if (remembered !== undefined) {
    if (summary.size < remembered.size) {
      throw new CliError(
        `ledger verification FAILED: the log shrank from ${remembered.size} to ${count(summary.size, 'batch', 'batches')} since you last verified it`,
      );
    }
    if (summary.size > remembered.size) {
      const { proof } = await callApi<{ proof: string[] }>(
        connection,
        'GET',
        `/v1/ledger/proof/consistency?from=${remembered.size}&to=${summary.size}`,
      );
      try {
        verifyConsistency(
          nodeHasher,
          remembered.size,
          summary.size,
          proof.map((p) => fromBase64(p)!),
          fromBase64(remembered.root)!,
          fromBase64(summary.root)!,
        );
      } catch {
        throw new CliError(
          `ledger verification FAILED: the history up to ${remembered.size} batches was rewritten since you last verified it`,
        );
      }
    } else if (summary.root !== remembered.root) {
      throw new CliError(
        `ledger verification FAILED: the log at ${summary.size} batches has a different root than when you last verified it`,
      );
    }
  }
  store[origin] = { size: summary.size, root: summary.root, keys: [...vkeys] };
  writeTrustStore(store);
  const trust =
    remembered === undefined
      ? ' (first use: keys and checkpoint remembered)'
      : ` (consistent with the ${count(remembered.size, 'batch', 'batches')} verified before)`;
  return `ok: tenant ${summary.tenant}, ${counted(summary)}${trust}; ${witnessed(summary, vkeys, quorum)}`;
}

/** `palisade ledger …`: export, verify and fetch keys of the verifiable ledger. */
export async function ledgerCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      tenant: { type: 'string' },
      out: { type: 'string' },
      keys: { type: 'string' },
      'witness-quorum': { type: 'string' },
    },
  });
  switch (sub) {
    case 'keys': {
      const connection = {
        url: connectionFrom({ ...values, token: values.token ?? 'none' }, process.env).url,
        token: 'none',
      };
      const { keys } = await callApi<{ keys: string[] }>(
        connection,
        'GET',
        '/v1/platform/ledger/keys',
      );
      const text = `${keys.join('\n')}\n`;
      if (values.out === undefined) process.stdout.write(text);
      else writeFile(values.out, text);
      return EXIT.ok;
    }
    case 'export': {
      if (values.tenant === undefined || values.out === undefined)
        throw new CliError(`export needs --tenant and --out\n${USAGE}`, EXIT.usage);
      const connection = connectionFrom(values, process.env);
      const tenant = await resolveTenant(connection, values.tenant);
      process.stderr.write(`exporting the ledger of ${tenant.slug}…\n`);
      const bundle = await callApi<LedgerBundle>(
        connection,
        'GET',
        `/v1/platform/tenants/${tenant.id}/ledger/export`,
      );
      writeFile(values.out, `${JSON.stringify(bundle)}\n`);
      process.stdout.write(
        `wrote ${values.out}: ${bundle.entries.length} entries, ${bundle.batches.length} batches (record data stays with the tenant)\n`,
      );
      return EXIT.ok;
    }
    case 'verify': {
      const file = positionals[0];
      const quorum = witnessQuorum(values['witness-quorum']);
      if (file === undefined) {
        if (values.token === undefined && !process.env.PALISADE_TOKEN)
          throw new CliError(
            `verify needs a BUNDLE file and --keys FILE, or a tenant's API key (--token or PALISADE_TOKEN) to verify online\n${USAGE}`,
            EXIT.usage,
          );
        process.stdout.write(
          `${await verifyOnline(connectionFrom(values, process.env), values.keys, quorum)}\n`,
        );
        return EXIT.ok;
      }
      if (values.keys === undefined)
        throw new CliError(
          `offline verification needs --keys FILE (from: palisade ledger keys)\n${USAGE}`,
          EXIT.usage,
        );
      const vkeys = readVkeys(values.keys);
      const summary = await verify(readBundle(file), vkeys, quorum);
      process.stdout.write(
        `ok: tenant ${summary.tenant}, ${counted(summary)}; ` +
          `anchored at ${summary.platformSize} in the platform log signed by ${count(summary.platformSigners.length, 'key', 'keys')}, ` +
          `${witnessed(summary, vkeys, quorum)}\n`,
      );
      return EXIT.ok;
    }
    default:
      throw new CliError(USAGE, EXIT.usage);
  }
}
