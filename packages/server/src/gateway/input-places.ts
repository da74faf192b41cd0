import type { InputPlacer } from '../errors/index.ts';

/** A service input that a REST route takes from its query string, under the same name. */
export const QUERY_INPUT: InputPlacer = ({ input, at }) => `/querystring/${input}${at}`;

/** A service input that a REST route takes from its JSON body, under the same name. */
export const BODY_INPUT: InputPlacer = ({ input, at }) => `/body/${input}${at}`;
