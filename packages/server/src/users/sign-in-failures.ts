import type { WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantWriteTx } from '../store/index.ts';
import { type LockoutPolicy, lockoutMs } from './lockout.ts';

/** Who the ledger names for a failed attempt: whoever it was, it was not yet the user. */
const SIGN_IN_ACTOR = 'sign-in';

/** PALISADE_ACCOUNT_LOCKED, with when the lock ends. */
export class AccountLockedError extends PalisadeError {
  readonly lockedUntil: string;
  readonly retryAfterSeconds: number;

  constructor(lockedUntil: string, now: number) {
    const seconds = Math.max(1, Math.ceil((Date.parse(lockedUntil) - now) / 1000));
    super(
      'PALISADE_ACCOUNT_LOCKED',
      `too many failed sign-ins: the account is locked until ${lockedUntil}; retry in ${seconds}s`,
    );
    this.lockedUntil = lockedUntil;
    this.retryAfterSeconds = seconds;
  }
}

export function signInFailed(): PalisadeError {
  return new PalisadeError(
    'PALISADE_SIGN_IN_FAILED',
    'the email or password is wrong (or the code); check them and try again',
  );
}

/**
 * Counts one failed sign-in of the user at `now` (atomically, in the store; earlier failures
 * count only within the policy's window) and, from the policy's threshold on, locks the
 * account; both are ledger entries. Returns the error to answer with.
 */
export async function countFailure(
  tx: TenantWriteTx,
  record: (event: WriteEvent) => void,
  userId: string,
  policy: LockoutPolicy,
  now: number,
): Promise<PalisadeError> {
  const failures = await tx.users.addSignInFailure(
    userId,
    new Date(now).toISOString(),
    new Date(now - policy.windowMs).toISOString(),
  );
  if (failures === undefined) return signInFailed();
  record({
    actor: SIGN_IN_ACTOR,
    action: 'users.sign-in-failed',
    resource: `users/${userId}`,
    state: { id: userId, failedSignIns: failures },
  });
  const ms = lockoutMs(policy, failures);
  if (ms === 0) return signInFailed();
  const until = new Date(now + ms).toISOString();
  await tx.users.lockUser(userId, until);
  record({
    actor: SIGN_IN_ACTOR,
    action: 'users.lock',
    resource: `users/${userId}`,
    state: { id: userId, failedSignIns: failures, lockedUntil: until, lockMs: ms },
  });
  return new AccountLockedError(until, now);
}
