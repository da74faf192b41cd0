import { outboxPath } from '../../node-file.ts';
import { Outbox } from '../../outbox.ts';
import { NotQuarantinedError, type QuarantinedBatch } from '../../outbox-quarantine.ts';
import { enrolledNode, flags, required } from '../args.ts';
import { CliError, EXIT } from '../cli-error.ts';
import { DEFAULT_OUTBOX_MAX_MESSAGES } from './outbox-flags.ts';

function line(b: QuarantinedBatch): string {
  const named = b.refusal.errors.map((e) => `${e.path} ${e.message}`).join('; ');
  return [
    `${b.batchId}  ${b.messages} messages of ${b.devices.length} devices, oldest ${new Date(b.oldestReceivedAt).toISOString()}${b.sent ? ', may have been applied' : ''}`,
    `  refused ${b.refusal.at}: ${b.refusal.status} ${b.refusal.code}: ${b.refusal.detail}${named === '' ? '' : ` (${named})`}`,
    `  devices ${b.devices.join(', ')}`,
  ].join('\n');
}

/**
 * `palisade-edge quarantine list|retry|discard --dir DIR …`: the batches the platform refused
 * for good, and the operator's two ways out of quarantine. Safe while `start` runs: a batch
 * set aside is never in the agent's hands.
 */
export function quarantine(argv: string[]): number {
  const [action, ...rest] = argv;
  const values = flags(rest, {
    dir: { type: 'string' },
    batch: { type: 'string' },
    json: { type: 'boolean' },
    'as-new': { type: 'boolean' },
  });
  if (action !== 'list' && action !== 'retry' && action !== 'discard')
    throw new CliError(
      'palisade-edge quarantine takes list, retry or discard; see palisade-edge --help',
      EXIT.usage,
    );
  const dir = required(values.dir, 'dir');
  const batch = action === 'list' ? undefined : required(values.batch, 'batch');
  const node = enrolledNode(dir);
  // Nothing is accepted here, so the outbox's bound does not matter.
  const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
    maxMessages: DEFAULT_OUTBOX_MAX_MESSAGES,
  });
  try {
    if (batch === undefined) {
      const batches = outbox.quarantine.list();
      const text = values.json
        ? JSON.stringify(batches)
        : batches.length === 0
          ? 'no batches in quarantine'
          : batches.map(line).join('\n');
      process.stdout.write(`${text}\n`);
    } else if (action === 'retry') {
      const asNew = values['as-new'] === true;
      const twice = asNew && outbox.quarantine.list().find((b) => b.batchId === batch)?.sent;
      const n = outbox.quarantine.retry(batch, asNew);
      process.stdout.write(
        `batch ${batch}: ${n} messages back in the queue${asNew ? ', to be formed again under new batch ids' : ' as the same batch'}; the running agent sends them next${twice ? '. An earlier send of it may have been applied: what it applied is applied again' : ''}\n`,
      );
    } else {
      const n = outbox.quarantine.discard(batch);
      process.stdout.write(`batch ${batch}: ${n} messages discarded for good\n`);
    }
  } catch (error) {
    if (error instanceof NotQuarantinedError)
      throw new CliError(
        `${error.message}; palisade-edge quarantine list --dir ${dir} shows those that are`,
      );
    throw error;
  } finally {
    outbox.close();
  }
  return EXIT.ok;
}
