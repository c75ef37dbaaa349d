/**
 * Myriad's public API. Importing this module installs the reference interpreter as the eager
 * evaluator and the np library behind Array methods.
 */
import './backends/registry.js';

export { Array, ShapeDtypeStruct, type ArrayLike } from './core/array.js';
export type { DType, TypedArray } from './core/dtype.js';
export { dtypes } from './core/dtypes_ns.js';
export * from './core/errors.js';
export { Graph, Var, Literal, type AbstractValue, type Eqn } from './core/ir.js';
export type { Primitive, PrimitiveParams } from './core/primitives.js';
export { makeGraph, evalGraph } from './core/trace.js';
export { jit, registerBackend, setDefaultBackend, defaultBackend, type JitOptions, type Jitted, type JitStats, type Backend, type Executable } from './core/jit.js';
export { grad, valueAndGrad, vjp, stopGradient, checkpoint, customVjp, type GradOptions } from './core/autodiff.js';
export { tree, type TreeDef } from './core/pytree.js';
export * as lax from './core/lax.js';
export { np, IndexError } from './np/index.js';
export { random } from './random/index.js';
export { eagerPolicy, eagerStats } from './backends/eager.js';
export { lowerGraph, OnnxExecutable, exportOnnx, exportOnnxToFile, ONNX_OPSET } from './backends/onnx/index.js';
export { evalGraphReference } from './backends/reference/index.js';
export { dce } from './core/passes.js';
export { checkGrads, type CheckGradsOptions } from './testing/check_grads.js';
export { optim, type GradientTransformation, type Schedule } from './optim/index.js';
export { saveCheckpoint, loadCheckpoint, listCheckpoints, readSafetensors, writeSafetensors, CheckpointError, SafetensorsError } from './checkpoint/index.js';
export { nn } from './nn/index.js';
export { models } from './models/index.js';
export * as distributed from './distributed/index.js';
export {
  P, NamedSharding, makeMeshShape, withShardingConstraint, propagate, printShardedGraph, shardingsFromAxes, logicalToMesh,
  evalSpmdReference, Mesh, makeMesh, devicePut, ShardedArray, jitSharded, partition, type Sharding, type MeshShape, type PartitionSpec,
} from './distributed/index.js';
export { Trainer, runTraining, parseTrainConfig, loadTrainConfig, loadTrainedModel, generateText, type TrainConfig } from './train/index.js';
export { extractTaskSubnetwork, exportModelOnnx, writeModelOnnx } from './export/index.js';
