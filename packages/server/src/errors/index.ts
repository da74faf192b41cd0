export { ERROR_CODES, type ErrorCode, problemType } from './codes.ts';
export { PalisadeError, type Problem, type ProblemDetail } from './palisade-error.ts';
