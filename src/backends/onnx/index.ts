/**
 * The ONNX Runtime backend: lowering of Graphs to ONNX models (opset 18), sessions that run them
 * on Myriad Arrays (`OnnxExecutable`), and export of traced functions as standalone `.onnx` files.
 */

export { ONNX_OPSET, ONNX_IR_VERSION, OnnxError, OnnxModelBuilder, A, type Attr, type OnnxDType } from './builder.js';
export { lowerGraph, onnxRules, LowerContext, OnnxUnsupportedError, type LoweredModel, type LowerOptions, type OnnxRule, type Val } from './lower.js';
export { OnnxExecutable, toOrtTensor, fromOrtTensor, type OnnxSessionOptions, type RunOptions } from './session.js';
export { exportOnnx, exportOnnxToFile, exportOnnxWith, writeFileAtomic, type ExportOptions } from './export.js';
