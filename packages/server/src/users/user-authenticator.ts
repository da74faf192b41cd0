/**
 * Sign-in and invitation acceptance: the two ways someone without a credential proves who
 * they are to a tenant, so this module (and only it, for users) issues a TenantContext.
 *
 * A password is checked outside the tenant's write transaction (scrypt takes a few hundred
 * milliseconds); the outcome is then one group-commit op. Whether a user has the name must
 * not show, in the answer or in the work done: every attempt reads the same rows and checks
 * exactly one password hash (a name without a usable account is checked against a dummy hash
 * of the same cost), and failures are counted per user name, whether or not a user has it
 * (see SignInFailureRow), so an unknown name locks exactly like a known one. A locked name
 * answers PALISADE_ACCOUNT_LOCKED whatever the password, so guessing on during a lock tells
 * nothing. Failures count only within the lockout window (a failure older than that no longer
 * counts); from `threshold` on, each one locks the name for twice as long as the last
 * (capped). Every lock and sign-in is a ledger entry; a failure that locks nothing is not
 * (see countFailure). A TOTP code is refused unless its time step is newer than the last one
 * accepted.
 */
import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantSecretSeal } from '../keys/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { TenantStore, TenantWriteTx, UserRow } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { issueTenantContext } from '../tenancy/tenant-context.ts';
import { invitationTokenHash } from './invitation-token.ts';
import type { LockoutPolicy } from './lockout.ts';
import { hashPassword, needsRehash, unmatchableHash, verifyPassword } from './password-hash.ts';
import { checkPasswordPolicy } from './password-policy.ts';
import {
  AccountLockedError,
  countFailure,
  type FailedAttempt,
  lockOf,
  signInFailed,
} from './sign-in-failures.ts';
import type { SignInNames } from './sign-in-names.ts';
import { totpPlace, totpStep } from './totp-code.ts';
import { applyChange } from './user-service.ts';
import { ledgerStateOf, normalizeEmail } from './user-view.ts';

/** Who signed in. */
export interface SignedInUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly roles: readonly string[];
}

/** An invitation as its page shows it. */
export interface InvitationView {
  readonly email: string;
  readonly name: string;
  readonly expiresAt: string;
}

/** What the invited user sets: a password, and optionally a TOTP secret proven by a code. */
export interface InvitationAnswer {
  readonly password: string;
  readonly totp?: { readonly secret: Uint8Array; readonly code: string } | undefined;
}

function invitationInvalid(): PalisadeError {
  return new PalisadeError(
    'PALISADE_INVITATION_INVALID',
    'this invitation link is unknown, used or expired; ask an admin of the tenant for a new one',
  );
}

/** What checking a user's credentials needs: sign-in, and a signed-in user's own changes. */
export interface CredentialChecks {
  readonly locate: TenantStoreLocator;
  readonly committer: GroupCommitter;
  readonly secrets: TenantSecretSeal;
  /** Keys the names whose failures are counted. */
  readonly names: SignInNames;
  readonly lockout: LockoutPolicy;
  /** Epoch milliseconds now (tests move it). */
  readonly clock?: (() => number) | undefined;
}

/** Signs users in and spends their invitations (see the module comment). */
export class UserAuthenticator {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #secrets: TenantSecretSeal;
  readonly #names: SignInNames;
  readonly #lockout: LockoutPolicy;
  readonly #clock: () => number;
  readonly #dummyHash = unmatchableHash();

  constructor(options: CredentialChecks) {
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#secrets = options.secrets;
    this.#names = options.names;
    this.#lockout = options.lockout;
    this.#clock = options.clock ?? Date.now;
  }

  async #store(tenant: Tenant, actorId = 'sign-in'): Promise<TenantStore> {
    if (tenant.status !== 'active') throw signInFailed();
    return this.#locate(issueTenantContext(tenant, { kind: 'user', id: actorId }));
  }

  /**
   * Verifies a user's password (and TOTP code, when the account has one).
   * @throws PalisadeError PALISADE_SIGN_IN_FAILED, PALISADE_TOTP_REQUIRED, or
   *   AccountLockedError (PALISADE_ACCOUNT_LOCKED).
   */
  async signIn(
    tenant: Tenant,
    email: string,
    password: string,
    totpCode?: string,
  ): Promise<SignedInUser> {
    const store = await this.#store(tenant);
    const [nameKey] = (await this.#names.keysOf(tenant, [email])) as [string];
    const user = await store.reader.users.getUserByEmail(normalizeEmail(email));
    const [failures] = await store.reader.users.getSignInFailures([nameKey]);
    const account = usable(user);
    const passwordOk = await verifyPassword(password, account?.passwordHash ?? this.#dummyHash);
    const now = this.#clock();
    const lockedUntil = lockOf(failures, now);
    if (lockedUntil !== undefined) throw new AccountLockedError(lockedUntil, now);
    const attempt: FailedAttempt = { nameKey, userId: user?.id };
    if (account === undefined || !passwordOk) return this.#fail(store, attempt);
    let step: number | null = null;
    if (account.row.totp !== null) {
      if (totpCode === undefined || totpCode === '')
        throw new PalisadeError(
          'PALISADE_TOTP_REQUIRED',
          'this account has a second factor: send the 6-digit code of your authenticator app',
        );
      const secret = await this.#secrets.open(tenant, totpPlace(account.row.id), account.row.totp);
      step = totpStep(secret, totpCode, this.#clock()) ?? null;
      secret.fill(0);
      if (step === null) return this.#fail(store, attempt);
    }
    const rehash = needsRehash(account.passwordHash) ? await hashPassword(password) : undefined;
    const { id } = account.row;
    const outcome = await this.#committer.submit(store, async (tx, record) => {
      // Checked again now that the password is verified: attempts sent in parallel all passed
      // the first check, and their failures (or an admin) may have locked or changed the account.
      const current = await tx.users.getUser(id);
      if (
        current === undefined ||
        current.disabled ||
        current.passwordHash !== account.passwordHash
      )
        return signInFailed();
      const now = this.#clock();
      const [failures] = await tx.users.getSignInFailures([nameKey]);
      const lockedUntil = lockOf(failures, now);
      if (lockedUntil !== undefined) return new AccountLockedError(lockedUntil, now);
      if (!(await tx.users.signedIn(id, step)))
        return countFailure(tx, record, attempt, this.#lockout, now);
      await tx.users.clearSignInFailures(nameKey);
      if (rehash !== undefined) await this.#rehash(tx, record, id, rehash);
      record(userEvent(id, 'users.sign-in', { id, totp: step !== null }));
      return current;
    });
    if (outcome instanceof PalisadeError) throw outcome;
    return { id: outcome.id, email: outcome.email, name: outcome.name, roles: outcome.roles };
  }

  /** Stores the password at the current cost; skipped (next time) if the user moved meanwhile. */
  async #rehash(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    userId: string,
    hash: string,
  ): Promise<void> {
    try {
      const now = new Date(this.#clock()).toISOString();
      const next = await applyChange(tx, userId, now, (row) => ({ ...row, passwordHash: hash }));
      record(userEvent(userId, 'users.password-rehash', ledgerStateOf(next)));
    } catch (error) {
      if (!(error instanceof PalisadeError)) throw error;
    }
  }

  async #fail(store: TenantStore, attempt: FailedAttempt): Promise<never> {
    throw await this.#committer.submit(store, (tx, record) =>
      countFailure(tx, record, attempt, this.#lockout, this.#clock()),
    );
  }

  /** The invitation a token opens in this tenant (the page shows whom it is for). */
  async invitation(tenant: Tenant, token: string): Promise<InvitationView> {
    const store = await this.#invitationStore(tenant);
    const invitation = await store.reader.users.getInvitation(invitationTokenHash(token));
    if (invitation === undefined || Date.parse(invitation.expiresAt) <= this.#clock())
      throw invitationInvalid();
    const user = await store.reader.users.getUser(invitation.userId);
    if (user === undefined) throw invitationInvalid();
    return { email: user.email, name: user.name, expiresAt: invitation.expiresAt };
  }

  /**
   * Spends the invitation: sets the password (and TOTP, when its code checks), clears any
   * lock, and ends the sign-ins made with the old credentials. The token works once; a second
   * use, or one past its expiry, is refused.
   */
  async acceptInvitation(
    tenant: Tenant,
    token: string,
    answer: InvitationAnswer,
  ): Promise<SignedInUser> {
    const view = await this.invitation(tenant, token);
    checkPasswordPolicy(answer.password, view.email);
    const store = await this.#invitationStore(tenant);
    const hash = await hashPassword(answer.password);
    const tokenHash = invitationTokenHash(token);
    // A user's email never changes: the invited one's name is the page's.
    const [nameKey] = (await this.#names.keysOf(tenant, [view.email])) as [string];
    const invitation = await store.reader.users.getInvitation(tokenHash);
    if (invitation === undefined) throw invitationInvalid();
    const userId = invitation.userId;
    let step: number | null = null;
    let sealed = null;
    if (answer.totp !== undefined) {
      step = totpStep(answer.totp.secret, answer.totp.code, this.#clock()) ?? null;
      if (step === null)
        throw new PalisadeError(
          'PALISADE_INVALID_REQUEST',
          'the code does not match the TOTP secret; enter the current code of your authenticator app',
          [{ path: '/body/totpCode', message: 'does not match' }],
        );
      sealed = await this.#secrets.seal(tenant, totpPlace(userId), answer.totp.secret);
    }
    const user = await this.#committer.submit(store, async (tx, record) => {
      const now = new Date(this.#clock()).toISOString();
      const live = await tx.users.getInvitation(tokenHash);
      if (live === undefined || live.expiresAt <= now) throw invitationInvalid();
      // The user is written before the link is spent: a write refused because another instance
      // moved the row meanwhile then has written nothing, and the link still works. On
      // PostgreSQL the written row stays locked until commit, so a second acceptance of this
      // link fails at its own write. (A token hash names one user for good: `live` is userId's.)
      const next = await applyChange(tx, userId, now, (row) => ({
        ...row,
        passwordHash: hash,
        totp: sealed ?? row.totp,
        totpLastStep: sealed === null ? row.totpLastStep : step,
        totpPending: null,
        sessionsNotBefore: now,
        keptSignIn: null,
      }));
      await tx.users.clearSignInFailures(nameKey);
      await tx.users.consumeInvitation(tokenHash, now);
      record(userEvent(userId, 'users.accept-invitation', ledgerStateOf(next)));
      return next;
    });
    return { id: user.id, email: user.email, name: user.name, roles: user.roles };
  }

  #invitationStore(tenant: Tenant): Promise<TenantStore> {
    if (tenant.status !== 'active') throw invitationInvalid();
    return this.#store(tenant, 'invitation');
  }
}

/** The user and its password hash, when it can sign in (has a password and is enabled). */
function usable(user: UserRow | undefined): { row: UserRow; passwordHash: string } | undefined {
  if (user === undefined || user.disabled || user.passwordHash === null) return undefined;
  return { row: user, passwordHash: user.passwordHash };
}

function userEvent(userId: string, action: string, state: unknown): WriteEvent {
  return { actor: `user:${userId}`, action, resource: `users/${userId}`, state };
}
