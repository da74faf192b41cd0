/** The longest delay a Node.js timer keeps; a longer one fires after 1 ms instead. */
export const TIMER_MAX_MS = 2_147_483_647;

/**
 * Calls `callback` after `delayMs`, however long: a delay beyond TIMER_MAX_MS is waited in
 * steps of at most that. Returns the function that cancels it.
 */
export function setLongTimeout(callback: () => void, delayMs: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer =
      left > TIMER_MAX_MS
        ? setTimeout(() => arm(left - TIMER_MAX_MS), TIMER_MAX_MS)
        : setTimeout(callback, left);
  };
  arm(delayMs);
  return () => clearTimeout(timer);
}
