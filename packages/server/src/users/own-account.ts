/**
 * The signed-in user's own account (`/v1/users/me…`): read it, change the password, enrol and
 * remove TOTP. The user is the context's actor, the subject of their own access token, never
 * an id from a request. A change needs the current password (removing TOTP a current code
 * too), checked as a sign-in checks them: one password hash per attempt, refused while the
 * email is locked, and each failure counted toward that lock (countFailure), so these routes
 * are no way around the sign-in page's lock. A confirming code of a new TOTP secret counts
 * the same way. A change ends the user's other sign-ins (sessionsNotBefore) and keeps the one
 * it was made from (keptSignIn): the app the user changed it in stays signed in.
 */
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantSecretSeal } from '../keys/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { SealedTotp, TenantStore, UserRow } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { LockoutPolicy } from './lockout.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import { checkPasswordPolicy } from './password-policy.ts';
import {
  AccountLockedError,
  countFailure,
  type FailedAttempt,
  lockOf,
} from './sign-in-failures.ts';
import type { SignInNames } from './sign-in-names.ts';
import { newTotpSecret, totpPlace, totpStep } from './totp-code.ts';
import type { CredentialChecks } from './user-authenticator.ts';
import { applyChange } from './user-service.ts';
import { ledgerStateOf, type UserView, viewOf } from './user-view.ts';

const USER_ACTOR = 'user:';

/** The credentials a change is proven with, as the request names them. */
const CURRENT_PASSWORD = '/body/currentPassword';
const TOTP_CODE = '/body/totpCode';

/** A change, given the row read in its transaction and the time now (ISO 8601). */
type Change = (row: UserRow, now: string) => UserRow;

interface Proven {
  readonly store: TenantStore;
  readonly row: UserRow;
  readonly nameKey: string;
  /** The TOTP time step of the code that proved it, if one did. */
  readonly step: number | null;
  /** Whether the password proved it: the email's failures are then cleared. */
  readonly byPassword: boolean;
}

function reauthenticationFailed(path: string): PalisadeError {
  const what = path === TOTP_CODE ? 'TOTP code' : 'current password';
  return new PalisadeError(
    'PALISADE_REAUTHENTICATION_FAILED',
    `the ${what} is wrong; check it and try again (failures count toward the sign-in lock)`,
    [{ path, message: 'is wrong' }],
  );
}

function codeMismatch(): PalisadeError {
  return new PalisadeError(
    'PALISADE_INVALID_REQUEST',
    'the code does not match the new TOTP secret; enter the current code of your authenticator app',
    [{ path: '/body/code', message: 'does not match' }],
  );
}

function changedMeanwhile(): PalisadeError {
  return new PalisadeError(
    'PALISADE_PRECONDITION_FAILED',
    'your account changed while this request ran; read it again and retry',
  );
}

/** The user a context acts for: only a user's own access token makes one. */
function userIdOf(context: TenantContext): string {
  const { actor } = context;
  if (actor.kind !== 'user' || !actor.id.startsWith(USER_ACTOR))
    throw new PalisadeError(
      'PALISADE_FORBIDDEN',
      "this route is the signed-in user's own: call it with the user's access token",
    );
  return actor.id.slice(USER_ACTOR.length);
}

/** A signed-in user's own account (see the module comment). */
export class OwnAccount {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #secrets: TenantSecretSeal;
  readonly #names: SignInNames;
  readonly #lockout: LockoutPolicy;
  readonly #clock: () => number;

  constructor(options: CredentialChecks) {
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#secrets = options.secrets;
    this.#names = options.names;
    this.#lockout = options.lockout;
    this.#clock = options.clock ?? Date.now;
  }

  async profile(context: TenantContext): Promise<UserView> {
    const { store, row } = await this.#user(context, false);
    const [nameKey] = (await this.#names.keysOf(context.tenant, [row.email])) as [string];
    const [failures] = await store.reader.users.getSignInFailures([nameKey]);
    return viewOf(row, failures);
  }

  /**
   * Sets a new password once the current one is proven; `keep` is the sign-in (grant id) the
   * request came from, spared when the others end.
   */
  async changePassword(
    context: TenantContext,
    keep: string | undefined,
    current: string,
    next: string,
  ): Promise<UserView> {
    const { store, row } = await this.#user(context);
    checkPasswordPolicy(next, row.email, '/body/newPassword');
    if (next.normalize('NFC') === current.normalize('NFC'))
      throw new PalisadeError('PALISADE_PASSWORD_REJECTED', 'the new password is the current one', [
        { path: '/body/newPassword', message: 'is the current password' },
      ]);
    const proven = await this.#prove(context, store, row, current);
    const hash = await hashPassword(next);
    return this.#commit(context, proven, 'users.password-change', (row, now) => ({
      ...row,
      passwordHash: hash,
      sessionsNotBefore: now,
      keptSignIn: keep ?? null,
    }));
  }

  /**
   * Starts enrolling TOTP once the password is proven: a new secret, in force only when
   * `confirmTotp` gets a code of it (a typo cannot lock the user out). Starting again replaces
   * it. The secret is in this answer only; zero it once used.
   */
  async startTotp(
    context: TenantContext,
    current: string,
  ): Promise<{ secret: Uint8Array; email: string }> {
    const { store, row } = await this.#user(context);
    if (row.totp !== null) throw totpEnrolled();
    const proven = await this.#prove(context, store, row, current);
    const secret = newTotpSecret();
    const pending = await this.#secrets.seal(context.tenant, totpPlace(row.id), secret);
    await this.#commit(context, proven, 'users.totp-enrol-start', (row) => {
      if (row.totp !== null) throw totpEnrolled();
      return { ...row, totpPending: pending };
    });
    return { secret, email: row.email };
  }

  /** Puts the TOTP secret being enrolled in force, given a current code of it. */
  async confirmTotp(
    context: TenantContext,
    keep: string | undefined,
    code: string,
  ): Promise<UserView> {
    const { store, row } = await this.#user(context);
    if (row.totp !== null) throw totpEnrolled();
    const pending = row.totpPending;
    if (pending === null)
      throw new PalisadeError(
        'PALISADE_TOTP_ENROLMENT_NOT_STARTED',
        'no TOTP enrolment is waiting for a code: start one with POST /v1/users/me/totp',
      );
    const { nameKey } = await this.#unlocked(context, store, row);
    const step = await this.#step(context, row.id, pending, code);
    if (step === undefined) return this.#fail(store, { nameKey, userId: row.id }, codeMismatch());
    const proven = { store, row, nameKey, step: null, byPassword: false };
    return this.#commit(context, proven, 'users.totp-enrol', (row, now) => {
      if (row.totp !== null) throw totpEnrolled();
      if (row.totpPending === null || !sameSecret(row.totpPending, pending))
        throw changedMeanwhile();
      return {
        ...row,
        totp: pending,
        totpLastStep: step,
        totpPending: null,
        sessionsNotBefore: now,
        keptSignIn: keep ?? null,
      };
    });
  }

  /** Removes TOTP once the password and a current code are proven. */
  async removeTotp(
    context: TenantContext,
    keep: string | undefined,
    current: string,
    code: string,
  ): Promise<UserView> {
    const { store, row } = await this.#user(context);
    if (row.totp === null)
      throw new PalisadeError(
        'PALISADE_TOTP_NOT_ENROLLED',
        'this account has no TOTP second factor to remove',
      );
    const proven = await this.#prove(context, store, row, current, code);
    return this.#commit(context, proven, 'users.totp-remove', (row, now) => ({
      ...row,
      totp: null,
      totpLastStep: null,
      totpPending: null,
      sessionsNotBefore: now,
      keptSignIn: keep ?? null,
    }));
  }

  /** The user the context acts for; one that is disabled may read itself, not change. */
  async #user(context: TenantContext, changing = true) {
    const id = userIdOf(context);
    const store = await this.#locate(context);
    const row = await store.reader.users.getUser(id);
    if (row === undefined) throw new PalisadeError('PALISADE_USER_NOT_FOUND', 'no such user');
    if (changing && (row.disabled || row.passwordHash === null))
      throw new PalisadeError(
        'PALISADE_FORBIDDEN',
        'this user is disabled: an admin of the tenant can enable them again',
      );
    return { store, row };
  }

  /** The email's name key, once its lock (if any) has ended. */
  async #unlocked(context: TenantContext, store: TenantStore, row: UserRow) {
    const [nameKey] = (await this.#names.keysOf(context.tenant, [row.email])) as [string];
    const [failures] = await store.reader.users.getSignInFailures([nameKey]);
    const now = this.#clock();
    const lockedUntil = lockOf(failures, now);
    if (lockedUntil !== undefined) throw new AccountLockedError(lockedUntil, now);
    return { nameKey };
  }

  /**
   * Checks the password (one hash, whatever the lock) and, when given, a TOTP code newer than
   * the last accepted; a failure is counted toward the email's lock.
   */
  async #prove(
    context: TenantContext,
    store: TenantStore,
    row: UserRow,
    password: string,
    code?: string,
  ): Promise<Proven> {
    const passwordOk = await verifyPassword(password, row.passwordHash ?? '');
    const { nameKey } = await this.#unlocked(context, store, row);
    const attempt = { nameKey, userId: row.id };
    if (!passwordOk) return this.#fail(store, attempt, reauthenticationFailed(CURRENT_PASSWORD));
    if (code === undefined || row.totp === null)
      return { store, row, nameKey, step: null, byPassword: true };
    const step = await this.#step(context, row.id, row.totp, code);
    if (step === undefined || (row.totpLastStep !== null && step <= row.totpLastStep))
      return this.#fail(store, attempt, reauthenticationFailed(TOTP_CODE));
    return { store, row, nameKey, step, byPassword: true };
  }

  async #step(
    context: TenantContext,
    userId: string,
    sealed: SealedTotp,
    code: string,
  ): Promise<number | undefined> {
    const secret = await this.#secrets.open(context.tenant, totpPlace(userId), sealed);
    try {
      return totpStep(secret, code, this.#clock());
    } finally {
      secret.fill(0);
    }
  }

  /** Counts the failure; throws the lock it made, or `refusal`. */
  async #fail(store: TenantStore, attempt: FailedAttempt, refusal: PalisadeError): Promise<never> {
    const outcome = await this.#committer.submit(store, (tx, record) =>
      countFailure(tx, record, attempt, this.#lockout, this.#clock()),
    );
    throw outcome instanceof AccountLockedError ? outcome : refusal;
  }

  /**
   * Writes `change` as one group-commit op with its ledger entry, if the credentials proven
   * are still the user's and the email not locked meanwhile. A proof by the password clears
   * the email's failures, as a sign-in does; a TOTP code it took is spent.
   */
  async #commit(
    context: TenantContext,
    proven: Proven,
    action: string,
    change: Change,
  ): Promise<UserView> {
    const { row, nameKey, step, byPassword } = proven;
    const outcome = await this.#committer.submit(proven.store, async (tx, record) => {
      const current = await tx.users.getUser(row.id);
      if (current === undefined || current.disabled) throw changedMeanwhile();
      if (current.passwordHash !== row.passwordHash) throw changedMeanwhile();
      const now = this.#clock();
      const [failures] = await tx.users.getSignInFailures([nameKey]);
      const lockedUntil = lockOf(failures, now);
      if (lockedUntil !== undefined) return new AccountLockedError(lockedUntil, now);
      // A code used meanwhile (a sign-in, a parallel request) is a replay.
      if (step !== null && current.totpLastStep !== null && step <= current.totpLastStep) {
        const attempt = { nameKey, userId: row.id };
        const refusal = await countFailure(tx, record, attempt, this.#lockout, now);
        return refusal instanceof AccountLockedError ? refusal : reauthenticationFailed(TOTP_CODE);
      }
      if (byPassword) await tx.users.clearSignInFailures(nameKey);
      const at = new Date(now).toISOString();
      const next = await applyChange(tx, row.id, at, (read) => change(read, at));
      record({
        actor: context.actor.id,
        action,
        resource: `users/${row.id}`,
        state: ledgerStateOf(next),
      });
      const [left] = await tx.users.getSignInFailures([nameKey]);
      return viewOf(next, left);
    });
    if (outcome instanceof PalisadeError) throw outcome;
    return outcome;
  }
}

function totpEnrolled(): PalisadeError {
  return new PalisadeError(
    'PALISADE_TOTP_ALREADY_ENROLLED',
    'this account has a TOTP second factor already: remove it first (POST /v1/users/me/totp/removal)',
  );
}

function sameSecret(a: SealedTotp, b: SealedTotp): boolean {
  return Buffer.from(a.sealed).equals(b.sealed);
}
