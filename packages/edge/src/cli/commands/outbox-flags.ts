/** Messages the outbox holds before `accept` refuses with EDGE_OUTBOX_FULL (`--outbox-max-messages`). */
export const DEFAULT_OUTBOX_MAX_MESSAGES = 1_000_000;

export const outboxFlags = { 'outbox-max-messages': { type: 'string' } } as const;
