export {
  type BatchSealer,
  type GroupCommitOptions,
  GroupCommitter,
  type WriteEvent,
  type WriteOp,
} from './group-commit.ts';
