import type { Outbox } from '../outbox.ts';
import type { AcceptMessage } from './mqtt-listener.ts';

/** Takes one device message into the outbox synchronously (rules, then `Outbox.accept`). */
export type TakeMessage = (...args: Parameters<AcceptMessage>) => void;

interface Pending {
  readonly take: () => void;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit for the listener: the messages that arrive during one turn of the event loop
 * are taken on the next inside one outbox transaction, so they share one fsync instead of
 * paying one each, and every promise settles only after that commit (the listener then
 * PUBACKs). A message whose own take throws (the outbox is full) is refused alone; if the
 * commit fails, every message of the group is refused and none is kept.
 */
export function groupCommit(outbox: Outbox, take: TakeMessage): AcceptMessage {
  let queue: Pending[] = [];
  const flush = (): void => {
    const group = queue;
    queue = [];
    const failures = new Map<Pending, unknown>();
    try {
      outbox.transaction(() => {
        for (const message of group) {
          try {
            message.take();
          } catch (error) {
            failures.set(message, error);
          }
        }
      });
    } catch (error) {
      for (const message of group) message.reject(error);
      return;
    }
    for (const message of group)
      if (failures.has(message)) message.reject(failures.get(message));
      else message.resolve();
  };
  return (device, kind, payload) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ take: () => take(device, kind, payload), resolve, reject });
    });
}
