/**
 * `palisade ledger verify --url …`: verifies the ledger the server shows a credential, and
 * compares it with what the same server showed the same credential before (trust-store.ts).
 * A different tenant, platform origin or keys is refused as LEDGER_TRUST_CHANGED until the
 * auditor, having checked out of band, accepts the change; a history that does not extend the
 * remembered one is refused even then.
 */
import {
  type AcceptedKeyChange,
  type BundleSummary,
  equalBytes,
  fromBase64,
  isLedgerError,
  type LedgerBundle,
  openPlatformCheckpoint,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  verifyConsistency,
} from '@palisade/ledger';
import { nodeHasher, nodeVerifyProvider } from '@palisade/ledger/node';
import { type Connection, callApi } from '../api-client.ts';
import { count, counted, witnessed } from './summary-text.ts';
import { serverKey, type TrustedLog, TrustStore } from './trust-store.ts';
import {
  describeKeyChanges,
  followBundleKeyChanges,
  readVkeys,
  verificationFailed,
  verify,
} from './verifier.ts';

/** How `verify --url` runs, from its flags. */
export interface OnlineOptions {
  /** `--keys`: the vkeys to trust instead of those remembered or published. */
  readonly keysFile: string | undefined;
  /** `--witness-quorum`. */
  readonly quorum: number;
  /** `--tenant`: the tenant id the auditor expects the credential to be of. */
  readonly tenant: string | undefined;
  /** `--accept-change`: trust another tenant, origin or keys than those remembered. */
  readonly acceptChange: boolean;
}

const ACCEPT_HINT =
  "if the platform's operator confirms the change out of band, run again with --accept-change to trust what the server shows now";

const trustChanged = (message: string, hint = ACCEPT_HINT) =>
  verificationFailed('LEDGER_TRUST_CHANGED', `${message}; ${hint}`);

/** Refuses a ledger of another tenant than --tenant names, or than the credential saw before. */
function checkTenant(server: string, shown: string, expected: string | undefined, before?: string) {
  if (expected !== undefined && shown !== expected)
    throw trustChanged(
      `the server at ${server} shows the ledger of tenant ${shown}, not of tenant ${expected} as --tenant expects`,
      'check that --tenant names the tenant of this credential',
    );
  if (before !== undefined && shown !== before)
    throw trustChanged(
      `the server at ${server} now shows this credential the ledger of tenant ${shown}, but showed it tenant ${before} before`,
    );
}

/**
 * Refuses keys that do not verify the platform checkpoint remembered, signed by each of
 * them named after its origin: keys of another origin, or a key added or replaced.
 */
async function checkKeys(
  remembered: TrustedLog,
  vkeys: readonly string[],
  source: string,
  hint = ACCEPT_HINT,
) {
  if (remembered.platformCheckpoint === undefined) return;
  try {
    const verifiers = vkeys.map((vkey) => parseVerifierKey(vkey, nodeVerifyProvider));
    await openPlatformCheckpoint(remembered.platformCheckpoint, verifiers);
  } catch (error) {
    if (!isLedgerError(error)) throw error;
    throw trustChanged(
      `${source} do not verify the platform checkpoint you trusted before (${error.message})`,
      hint,
    );
  }
}

/**
 * Refuses a followed key change that starts before a checkpoint of the old key verified here
 * earlier: its previous checkpoint was not the old key's last, and what came after it may
 * have been rewritten.
 */
function checkChangeStart(remembered: TrustedLog | undefined, first: AcceptedKeyChange) {
  if (remembered?.platformCheckpoint === undefined || remembered.origin !== first.origin) return;
  const seen = parseCheckpoint(parseNote(remembered.platformCheckpoint).text);
  const start = first.previous;
  if (seen.size < start.size) return;
  if (seen.size === start.size && equalBytes(seen.root, start.root)) return;
  throw verificationFailed(
    'LEDGER_KEY_CHANGE_FORK',
    `the key change starts from the old key's checkpoint at size ${start.size}, but you verified its checkpoint at size ${seen.size} before: the change does not start from the old key's last checkpoint`,
  );
}

/** Refuses a log that does not extend the remembered one, proved by the server. */
async function checkExtends(connection: Connection, remembered: TrustedLog, now: BundleSummary) {
  if (now.size < remembered.size)
    throw verificationFailed(
      'LEDGER_FORK',
      `the log shrank from ${remembered.size} to ${count(now.size, 'batch', 'batches')} since you last verified it`,
    );
  if (now.size === remembered.size) {
    if (now.root === remembered.root) return;
    throw verificationFailed(
      'LEDGER_FORK',
      `the log at ${now.size} batches has a different root than when you last verified it`,
    );
  }
  const { proof } = await callApi<{ proof: string[] }>(
    connection,
    'GET',
    `/v1/ledger/proof/consistency?from=${remembered.size}&to=${now.size}`,
  );
  try {
    verifyConsistency(
      nodeHasher,
      remembered.size,
      now.size,
      proof.map((p) => fromBase64(p)!),
      fromBase64(remembered.root)!,
      fromBase64(now.root)!,
    );
  } catch {
    throw verificationFailed(
      'LEDGER_FORK',
      `the history up to ${remembered.size} batches was rewritten since you last verified it`,
    );
  }
}

/** Verifies the ledger the server shows the connection's credential; the summary line. */
export async function verifyOnline(
  connection: Connection,
  options: OnlineOptions,
): Promise<string> {
  const store = TrustStore.read();
  const server = serverKey(connection.url);
  const accept = options.acceptChange;
  const bundle = await callApi<LedgerBundle>(connection, 'GET', '/v1/ledger/export');
  const published = await callApi<{ origin: string; keys: string[] }>(
    connection,
    'GET',
    '/v1/platform/ledger/keys',
  );
  const before = accept ? undefined : store.tenantOf(server, connection.token);
  checkTenant(server, bundle.tenant, options.tenant, before);
  const remembered = store.log(server, bundle.tenant, published.origin);
  const fileKeys = options.keysFile === undefined ? undefined : readVkeys(options.keysFile);
  const trusted = fileKeys ?? remembered?.keys;
  const followed =
    trusted === undefined ? undefined : await followBundleKeyChanges(bundle, trusted);
  const changes = followed?.accepted ?? [];
  if (changes.length > 0 && !accept)
    throw trustChanged(
      `the platform's signing key was replaced: ${describeKeyChanges(changes).trim()}`,
      'run again with --accept-change to follow it',
    );
  if (changes.length > 0) checkChangeStart(remembered, changes[0]!);
  const source =
    fileKeys !== undefined
      ? `the keys in ${options.keysFile}`
      : `the ledger keys the server at ${server} publishes`;
  if (remembered !== undefined && !accept)
    await checkKeys(remembered, fileKeys ?? published.keys, source);
  // Another key for the same log is taken only along a key change shown to extend its history.
  if (
    remembered !== undefined &&
    accept &&
    changes.length === 0 &&
    fileKeys === undefined &&
    remembered.origin === published.origin
  )
    await checkKeys(
      remembered,
      published.keys,
      source,
      "the server shows no key change that leads from the keys you trusted to them; if the platform's operator confirms the new keys out of band, give them with --keys",
    );
  const vkeys =
    changes.length > 0
      ? followed!.vkeys
      : (fileKeys ?? (accept ? undefined : remembered?.keys) ?? published.keys);
  const summary = await verify(bundle, vkeys, options.quorum);
  // Another platform log is another history: only an accepted change skips the comparison.
  const compared = remembered !== undefined && remembered.origin === summary.platformOrigin;
  if (remembered !== undefined && !compared && !accept)
    throw trustChanged(
      `the server at ${server} now anchors the ledger of tenant ${summary.tenant} in the platform log ${summary.platformOrigin}, not ${remembered.origin} as before`,
    );
  if (compared) await checkExtends(connection, remembered, summary);
  store.remember(server, connection.token, summary.tenant, {
    origin: summary.platformOrigin,
    size: summary.size,
    root: summary.root,
    keys: [...vkeys],
    platformCheckpoint: bundle.platform.checkpoint,
  });
  store.save();
  const consistent = compared
    ? `consistent with the ${count(remembered.size, 'batch', 'batches')} verified before`
    : 'keys and checkpoint remembered';
  const trust = accept
    ? `change accepted; ${consistent}`
    : compared
      ? consistent
      : `first use: ${consistent}`;
  return `${describeKeyChanges(changes)}ok: tenant ${summary.tenant}, ${counted(summary)} (${trust}); ${witnessed(summary, vkeys, options.quorum)}`;
}
