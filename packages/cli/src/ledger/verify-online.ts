/** `palisade ledger verify --url …`: verifies the live server against what it showed before. */
import { fromBase64, type LedgerBundle, verifyConsistency } from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';
import { type Connection, callApi } from '../api-client.ts';
import { CliError } from '../cli-error.ts';
import { count, counted, witnessed } from './summary-text.ts';
import { readTrustStore, writeTrustStore } from './trust-store.ts';
import { readVkeys, verify } from './verifier.ts';

/** Verifies the ledger the server shows the connection's credential; the summary line. */
export async function verifyOnline(
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
