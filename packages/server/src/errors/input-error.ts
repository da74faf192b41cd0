import type { ErrorCode } from './codes.ts';
import { PalisadeError } from './palisade-error.ts';

/** What is wrong with one input of a service: its argument `input`, and where within it. */
export interface InputProblem {
  /** The service method's argument (`end`, `filters`, `schema`). */
  readonly input: string;
  /** A JSON pointer into that argument's value; '' for the whole of it. */
  readonly at: string;
  readonly message: string;
}

/** Where a transport's caller sent a service's input: REST `/querystring/end`, GraphQL `end`. */
export type InputPlacer = (problem: InputProblem) => string;

/**
 * An error about the inputs of a service that REST and GraphQL share. The service names its
 * own arguments, not the request that carried them, which it does not know: the transport
 * that called it places each (`placingInputs`) where its caller sent it.
 */
export class InputError extends PalisadeError {
  readonly problems: readonly InputProblem[];

  constructor(code: ErrorCode, detail: string, problems: readonly InputProblem[]) {
    super(
      code,
      detail,
      problems.map(({ input, at, message }) => ({ path: `/${input}${at}`, message })),
    );
    this.problems = problems;
  }
}

/** `work`'s result; an InputError of it is thrown again with each input placed by `place`. */
export async function placingInputs<T>(work: Promise<T>, place: InputPlacer): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new PalisadeError(
      error.code,
      error.message,
      error.problems.map((problem) => ({ path: place(problem), message: problem.message })),
    );
  }
}
