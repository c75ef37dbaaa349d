/**
 * GSPMD sharding: the representation (meshes, partition specs, shardings, shard shapes,
 * tile assignments), logical axis rules, per-primitive factor rules, sharding propagation and
 * the sharded Graph printer. See docs/sharding.md.
 */

export {
  ShardingError,
  makeMeshShape,
  checkMeshShape,
  meshSize,
  axisSize,
  axesSize,
  meshEqual,
  meshCoords,
  fmtMesh,
  P,
  NamedSharding,
  replicated,
  makeSharding,
  validateSharding,
  isSharding,
  isReplicated,
  dimAxes,
  shardCount,
  shardShape,
  deviceSlice,
  tileAssignment,
  shardingForRank,
  shardingEqual,
  specOf,
  shardingToString,
  shardingToJSON,
  shardingFromJSON,
  type MeshShape,
  type PartitionSpec,
  type Sharding,
  type DeviceSlice,
  type TileAssignment,
  type ShardingToStringOptions,
} from './sharding.js';
export { logicalToMesh, shardingsFromAxes, type LogicalAxisRule, type LogicalAxisRules, type LogicalNames } from './logical.js';
export { shardingRules, ruleFor, reshapeFactors, type FactorKind, type Factor, type FactorRule, type CallRule, type OpShardingRule, type ShardingRule, type RuleInput } from './rules.js';
export { propagate, type PropagateOptions, type PropagationResult, type Decision } from './propagation.js';
export { printShardedGraph } from './printer.js';
