/**
 * `checkpoint`: safetensors I/O written from the format spec, and atomic, checksummed training
 * checkpoints (params, optimizer state, step, data position, RNG key) with keep-last-N and
 * detection of damaged checkpoints. See checkpoint.ts for the directory layout.
 */

export { CheckpointError, SafetensorsError, type CheckpointProblem } from './errors.js';
export {
  MAX_HEADER_BYTES, SAFETENSORS_DTYPE, decodeSafetensors, encodeSafetensors, parseSafetensorsHeader, readSafetensors, writeSafetensors,
  type DecodedSafetensors, type SafetensorsHeader, type SafetensorsTensorInfo, type TensorsInput,
} from './safetensors.js';
export {
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, listCheckpoints, loadCheckpoint, saveCheckpoint,
  type CheckpointContents, type CheckpointInfo, type CheckpointManifest, type JsonValue, type LoadOptions, type LoadedCheckpoint,
  type ManifestFile, type ManifestLeaf, type ManifestTree, type SaveOptions, type SaveProgressEvent, type SaveResult, type SerializedTreeDef,
} from './checkpoint.js';
export { writeFileAtomic } from './fs_durable.js';
