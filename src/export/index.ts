/**
 * Exporting models: Task-MoE sub-network extraction (`extractTaskSubnetwork`, task_moe.ts), a
 * model with its parameters as a standalone ONNX file (`exportModelOnnx`, `writeModelOnnx`,
 * onnx_model.ts) and models in checkpoints (`saveModelCheckpoint`, `loadModelCheckpoint`,
 * model_checkpoint.ts). The `myriad export` command (src/cli/export.ts) puts them together.
 */

export * from './model_checkpoint.js';
export * from './onnx_model.js';
export * from './task_moe.js';
