/**
 * The local multi-device runtime: `Mesh` (one worker thread per device, each with its own ONNX
 * Runtime sessions; collectives through SharedArrayBuffer), compiled per-device programs,
 * sharded arrays and `devicePut`.
 */

export { Mesh, makeMesh, CompiledProgram, type MeshOptions, type ProgramOptions, type StepOptions, type StepProfile } from './mesh.js';
export { ShardedArray, devicePut } from './sharded_array.js';
export { MeshError, DeviceError } from './errors.js';
