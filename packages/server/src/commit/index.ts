export {
  type BatchSealer,
  type GroupCommitOptions,
  GroupCommitter,
  type Recorded,
  type WriteEvent,
  type WriteOp,
} from './group-commit.ts';
