import type { WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { SignInFailureRow, TenantWriteTx } from '../store/index.ts';
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

/** The lock in force on a name at `now`, if any. */
export function lockOf(failures: SignInFailureRow | undefined, now: number): string | undefined {
  const until = failures?.lockedUntil ?? null;
  return until !== null && Date.parse(until) > now ? until : undefined;
}

/** A failed attempt: the name's key (see SignInNames), and the user who has it, when one does. */
export interface FailedAttempt {
  readonly nameKey: string;
  readonly userId: string | undefined;
}

/**
 * Counts one failed sign-in of the name at `now` (atomically, in the store; earlier failures
 * count only within the policy's window) and, from the policy's threshold on, locks the name.
 * A lock is a ledger entry (`users.lock`, with the count that made it), about the user when
 * the name is one's; a failure below the threshold is not: anyone can fail a sign-in, and one
 * entry per failure would let them grow the tenant's ledger as fast as they can post a form.
 * A name yields at most one entry per `threshold` failures, and one per lock after that (each
 * twice as long as the last), which the bounded failure table and the sign-in rate limit keep
 * in check. Returns the error to answer with, which depends on the count alone: a name no
 * user has locks exactly like a user's.
 */
export async function countFailure(
  tx: TenantWriteTx,
  record: (event: WriteEvent) => void,
  attempt: FailedAttempt,
  policy: LockoutPolicy,
  now: number,
): Promise<PalisadeError> {
  const failures = await tx.users.addSignInFailure(
    attempt.nameKey,
    new Date(now).toISOString(),
    new Date(now - policy.windowMs).toISOString(),
    policy.namesMax,
  );
  const ms = lockoutMs(policy, failures);
  if (ms === 0) return signInFailed();
  const { userId } = attempt;
  const about =
    userId === undefined
      ? { resource: `sign-in/${attempt.nameKey}`, state: {} }
      : { resource: `users/${userId}`, state: { id: userId } };
  const until = new Date(now + ms).toISOString();
  await tx.users.lockSignIns(attempt.nameKey, until);
  record({
    actor: SIGN_IN_ACTOR,
    action: 'users.lock',
    resource: about.resource,
    state: { ...about.state, failedSignIns: failures, lockedUntil: until, lockMs: ms },
  });
  return new AccountLockedError(until, now);
}
