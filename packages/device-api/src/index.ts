export {
  type AttributeQuery,
  answerAttributes,
  attributeQuery,
  InvalidAttributeRequest,
} from './attribute-request.ts';
export { requestIdAfter } from './request-id.ts';
