import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { RpcChange, RpcRow, RpcStatus } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

export function rpcNotFound(): PalisadeError {
  return new PalisadeError('PALISADE_RPC_NOT_FOUND', 'no such RPC request');
}

/** The statuses of a request its device may still answer: not answered, failed or expired. */
export const OPEN_STATUSES: readonly RpcStatus[] = ['queued', 'sent', 'delivered'];

/** Whether the request waits for its device's answer (see OPEN_STATUSES). */
export function isOpen(status: RpcStatus): boolean {
  return OPEN_STATUSES.includes(status);
}

/** As shown: an open request past its expiry reads as expired before the job marks it. */
export function effective(row: RpcRow, now: string): RpcRow {
  return isOpen(row.status) && row.expiresAt <= now ? { ...row, status: 'expired' } : row;
}

/**
 * Moves a request from one of the `from` statuses to `change.status` in one commit with its
 * ledger entry; undefined when it is in none of them (another change won).
 */
export type RpcStatusChange = (
  context: TenantContext,
  deviceId: string,
  id: string,
  from: readonly RpcStatus[],
  change: RpcChange,
) => Promise<RpcRow | undefined>;

/** The one conditional status change both the request and the delivery side make. */
export function rpcStatusChange(
  locate: TenantStoreLocator,
  committer: GroupCommitter,
): RpcStatusChange {
  return async (context, deviceId, id, from, change) => {
    const store = await locate(context);
    return committer.submit(store, async (tx, record) => {
      const now = new Date().toISOString();
      // Past its expiry a request reads as expired (see effective) until the retention job
      // marks it so; it must not change in the meantime, into succeeded least of all.
      if (change.status !== 'expired') {
        const current = await tx.devices.getRpc(deviceId, id);
        if (current === undefined || !from.includes(effective(current, now).status))
          return undefined;
      }
      const row = await tx.devices.updateRpc(deviceId, id, from, change, now);
      if (row === undefined) return undefined;
      record({
        actor: context.actor.id,
        action: `rpc.${change.status}`,
        resource: `devices/${deviceId}/rpc/${id}`,
        state: { status: row.status, response: row.response ?? null, error: row.error },
      });
      return row;
    });
  };
}
