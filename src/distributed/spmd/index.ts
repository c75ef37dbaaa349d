/**
 * SPMD execution of per-device programs: the reference interpreter on virtual devices
 * (`evalSpmdReference`, the oracle), splitting programs at collectives for the runtime
 * (`splitAtCollectives`) after scheduling and combining collectives (`scheduleCollectives`),
 * mesh device groups, and the collectives' kernels.
 */

export { evalSpmdReference } from './interpreter.js';
export { scheduleCollectives, type ScheduleOptions, type ScheduleStats } from './combine.js';
export { splitAtCollectives, inlineCalls, formatSplit, type SplitProgram, type Segment, type CollectiveStep } from './split.js';
export { collectiveGroups, groupOf, groupParams, deviceCoords, deviceId, checkGroupOnMesh, type MeshShapeLike } from './groups.js';
export { collectiveResult, reduceRange, type DataCollective, type ReduceOp } from './collectives.js';
export { partition, countCollectives, PartitionError, partitionRules, type PartitionOptions, type PartitionResult, type PartitionRule, type PartitionContext, type PValue } from './partition.js';
export { planReshard, reshardCost, MeshInfo, SpmdEmitter, type ReshardStep, type CollectiveCounts } from './reshard.js';
