import { outboxPath } from '../../node-file.ts';
import { Outbox, OutboxFullError, type Priority } from '../../outbox.ts';
import { enrolledNode, flags, positiveInt, required } from '../args.ts';
import { CliError, EXIT } from '../cli-error.ts';
import { DEFAULT_OUTBOX_MAX_MESSAGES, outboxFlags } from './outbox-flags.ts';

/**
 * `palisade-edge accept --dir DIR --device ID --json '{...}' [--priority alert]`: puts one
 * device message into the outbox (durably) — an ops and test tool until the MQTT listener exists.
 */
export function accept(argv: string[]): number {
  const values = flags(argv, {
    dir: { type: 'string' },
    device: { type: 'string' },
    json: { type: 'string' },
    priority: { type: 'string' },
    ...outboxFlags,
  });
  const dir = required(values.dir, 'dir');
  const device = required(values.device, 'device');
  let payload: unknown;
  try {
    payload = JSON.parse(required(values.json, 'json'));
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`--json is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
  const priority = (values.priority ?? 'telemetry') as Priority;
  if (priority !== 'telemetry' && priority !== 'alert')
    throw new CliError('--priority must be telemetry or alert', EXIT.usage);
  const maxMessages = positiveInt(
    values['outbox-max-messages'],
    'outbox-max-messages',
    DEFAULT_OUTBOX_MAX_MESSAGES,
  );
  const node = enrolledNode(dir);
  const outbox = new Outbox(outboxPath(dir), Buffer.from(node.outboxKey, 'base64'), {
    maxMessages,
  });
  try {
    outbox.accept(device, payload, priority);
  } catch (error) {
    if (error instanceof OutboxFullError)
      throw new CliError(
        `${error.code}: ${error.message}; the message was not accepted, retry later and check palisade-edge status --dir ${dir} for the link`,
      );
    throw error;
  } finally {
    outbox.close();
  }
  return EXIT.ok;
}
