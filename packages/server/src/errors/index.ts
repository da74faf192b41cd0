export { ERROR_CODES, type ErrorCode, problemType } from './codes.ts';
export {
  InputError,
  type InputPlacer,
  type InputProblem,
  placingInputs,
} from './input-error.ts';
export { PalisadeError, type Problem, type ProblemDetail } from './palisade-error.ts';
