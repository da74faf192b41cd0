import { join } from 'node:path';
import { readCredentialStatus } from '../../credentials/index.ts';
import { CREDENTIALS_FILE } from '../../listener/index.ts';
import { outboxPath } from '../../node-file.ts';
import { readOutboxStatus } from '../../outbox-status.ts';
import { enrolledNode, flags, required } from '../args.ts';
import { EXIT } from '../cli-error.ts';

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
  const view = { nodeId: node.nodeId, platform: node.url, ...state, oldestAgeSeconds, credentials };
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(view)}\n`);
    return EXIT.ok;
  }
  const lines = [
    `node        ${view.nodeId}`,
    `platform    ${view.platform}`,
    `link        ${view.link}`,
    `backlog     ${view.backlog} messages (${view.inFlight} in the batch being sent)`,
    `oldest      ${oldestAgeSeconds === null ? '-' : `${oldestAgeSeconds.toFixed(1)} s ago`}`,
    `last sync   ${view.lastSync ?? 'never'}`,
    `drain rate  ${view.drainRate === null ? '-' : `${view.drainRate.toFixed(1)} msgs/s over the minute before the last sync`}`,
    `last result ${view.lastResult === null ? '-' : JSON.stringify(view.lastResult)}`,
    `devices     ${credentials.devices} with cached credentials (refreshed ${credentials.refreshedAt ?? 'never'})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
