import { join } from 'node:path';
import { readCredentialStatus } from '../../credentials/index.ts';
import { CREDENTIALS_FILE } from '../../listener/index.ts';
import { outboxPath } from '../../node-file.ts';
import { readOutboxStatus } from '../../outbox-status.ts';
import { RPC_JOURNAL_FILE, readRpcStatus } from '../../rpc/index.ts';
import { readRuleCache } from '../../rules/index.ts';
import { enrolledNode, flags, required } from '../args.ts';
import { EXIT } from '../cli-error.ts';

/** The cached rule book in brief, or why it cannot be read. */
function rulesOf(dir: string) {
  try {
    const book = readRuleCache(dir);
    return {
      revision: book.revision,
      ruleSets: book.ruleSets.length,
      devices: book.devices.length,
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** `palisade-edge status --dir DIR [--json]`: read-only, safe while `start` runs. */
export function status(argv: string[]): number {
  const values = flags(argv, { dir: { type: 'string' }, json: { type: 'boolean' } });
  const dir = required(values.dir, 'dir');
  const node = enrolledNode(dir);
  const state = readOutboxStatus(outboxPath(dir));
  const oldestAgeSeconds =
    state.oldestReceivedAt === null
      ? null
      : Math.max(0, (Date.now() - state.oldestReceivedAt) / 1000);
  const credentials = readCredentialStatus(join(dir, CREDENTIALS_FILE));
  const rpc = readRpcStatus(join(dir, RPC_JOURNAL_FILE));
  const rules = rulesOf(dir);
  const view = {
    nodeId: node.nodeId,
    platform: node.url,
    ...state,
    oldestAgeSeconds,
    credentials,
    rules,
    rpc,
  };
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(view)}\n`);
    return EXIT.ok;
  }
  const lines = [
    `node        ${view.nodeId}`,
    `platform    ${view.platform}`,
    `link        ${view.link}`,
    `backlog     ${view.backlog} messages (${view.inFlight} in the batch being sent)`,
    `quarantine  ${view.quarantine.batches === 0 ? 'empty' : `${view.quarantine.batches} batches (${view.quarantine.messages} messages) the platform refused for good: palisade-edge quarantine list --dir ${dir}`}`,
    `oldest      ${oldestAgeSeconds === null ? '-' : `${oldestAgeSeconds.toFixed(1)} s ago`}`,
    `last sync   ${view.lastSync ?? 'never'}`,
    `drain rate  ${view.drainRate === null ? '-' : `${view.drainRate.toFixed(1)} msgs/s over the minute before the last sync`}`,
    `last result ${view.lastResult === null ? '-' : JSON.stringify(view.lastResult)}`,
    `devices     ${credentials.devices} with cached credentials (refreshed ${credentials.refreshedAt ?? 'never'})`,
    `rules       ${'error' in rules ? `cache unreadable: ${rules.error}` : `${rules.ruleSets} rule sets for ${rules.devices} devices${rules.revision === '' ? '' : ` (revision ${rules.revision.slice(0, 12)})`}`}`,
    `rpc         ${rpc.held} requests waiting for their device, ${rpc.delivered} awaiting an answer`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
