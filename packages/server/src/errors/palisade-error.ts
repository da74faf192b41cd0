import { ERROR_CODES, type ErrorCode, problemType } from './codes.ts';

/** One failing location in a request, by JSON pointer into the request part it came from. */
export interface ProblemDetail {
  readonly path: string;
  readonly message: string;
}

/** RFC 9457 problem details, with Palisade's stable `code`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly errors?: readonly ProblemDetail[];
}

/** The one error class the platform throws on purpose; its code decides status and type. */
export class PalisadeError extends Error {
  readonly code: ErrorCode;
  readonly errors: readonly ProblemDetail[] | undefined;

  /** `options.cause`: the failure behind a 5xx, logged with it and never sent to the client. */
  constructor(
    code: ErrorCode,
    detail: string,
    errors?: readonly ProblemDetail[],
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = 'PalisadeError';
    this.code = code;
    this.errors = errors;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toProblem(): Problem {
    const problem: Problem = {
      type: problemType(this.code),
      title: ERROR_CODES[this.code].title,
      status: this.status,
      code: this.code,
      detail: this.message,
    };
    return this.errors === undefined ? problem : { ...problem, errors: this.errors };
  }
}
