/**
 * A model with its parameters as a standalone ONNX file: `exportModelOnnx(model, params, shape)`
 * traces `logits = model.apply(params, tokens)` for fixed input shapes with the parameters
 * captured as constants, so the ONNX graph's only inputs are the token ids (int32
 * `decoder_input_tokens` [batch, length]; encoder-decoders also `encoder_input_tokens`
 * [batch, inputsLength]; task-routed models also `task_ids` [batch]) and its one output is
 * `logits` (float32 [batch, length, vocab]). The weights become ONNX initializers, so any ONNX
 * runtime (e.g. plain `onnxruntime-node`, without Myriad) can run the file. Decoder-only models
 * read inputs the way `DecoderLM` does (start id 0 first, causal attention, every position real);
 * encoder-decoders treat encoder id 0 as padding, as T5 does.
 *
 * A JSON description (inputs, outputs, model spec, parameter count) is returned and, by
 * `writeModelOnnx`, written next to the file as `<file>.json`.
 */

import { writeFileAtomic } from '../checkpoint/index.js';
import { Array, ShapeDtypeStruct } from '../core/array.js';
import { dce } from '../core/passes.js';
import { makeGraph } from '../core/trace.js';
import { lowerGraph } from '../backends/onnx/lower.js';
import type { Model } from '../models/common.js';
import { ModelError, paramCount, positiveInt } from '../nn/module.js';

/** Input shapes of an exported model. */
export interface OnnxExportShape {
  /** Rows per call (default 1). */
  batch?: number;
  /** Decoder length (decoder-only: the sequence length; default 64). */
  length?: number;
  /** Encoder length of encoder-decoders (default 64). */
  inputsLength?: number;
}

/** One ONNX input or output. */
export interface OnnxTensorInfo {
  name: string;
  dtype: string;
  shape: number[];
}

/** What {@link exportModelOnnx} returns. */
export interface ExportedOnnx {
  /** The serialized ModelProto. */
  bytes: Uint8Array;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  opset: number;
  paramCount: number;
}

/**
 * Traces and lowers `model.apply(params, tokens)` to a standalone ONNX model (see the file
 * header). `taskRouted` models get a `task_ids` int32 [batch] input.
 */
export function exportModelOnnx(model: Model, params: unknown, shape: OnnxExportShape = {}): ExportedOnnx {
  const where = 'exportModelOnnx';
  const B = positiveInt(shape.batch ?? 1, 'batch', where);
  const L = positiveInt(shape.length ?? 64, 'length', where);
  const Le = positiveInt(shape.inputsLength ?? 64, 'inputsLength', where);
  const taskRouted = (model as { taskRouted?: boolean }).taskRouted === true;
  const names: string[] = [];
  const examples: ShapeDtypeStruct[] = [];
  if (model.family === 'encdec') {
    names.push('encoder_input_tokens');
    examples.push(new ShapeDtypeStruct([B, Le], 'int32'));
  }
  names.push('decoder_input_tokens');
  examples.push(new ShapeDtypeStruct([B, L], 'int32'));
  if (taskRouted) {
    names.push('task_ids');
    examples.push(new ShapeDtypeStruct([B], 'int32'));
  }
  const fn = (...inputs: Array[]): Array => {
    const batch: Record<string, Array> = {};
    names.forEach((n, i) => (batch[n] = inputs[i]));
    const logits = model.apply(params, batch, { train: false });
    if (logits.ndim !== 3) throw new ModelError(`${where}: the model returned logits of shape [${logits.shape.join(', ')}], expected [batch, length, vocab]`);
    return logits;
  };
  const graph = dce(makeGraph(fn)(...examples));
  const lowered = lowerGraph(graph, {
    graphName: 'myriad_model',
    inputNames: names,
    outputNames: ['logits'],
    docString: `Myriad ${model.family === 'encdec' ? 'encoder-decoder' : 'decoder-only'} model: logits for token ids (${names.join(', ')}).`,
  });
  const info = (n: string, a: { shape: readonly number[]; dtype: string }): OnnxTensorInfo => ({ name: n, dtype: a.dtype, shape: [...a.shape] });
  return {
    bytes: lowered.model,
    inputs: lowered.inputNames.map((n, i) => info(n, lowered.inputAvals[i])),
    outputs: lowered.outputNames.map((n, i) => info(n, lowered.outputAvals[i])),
    opset: lowered.opset,
    paramCount: paramCount(params),
  };
}

/**
 * {@link exportModelOnnx} written to `file` (atomically), with `extra` JSON (e.g. the task and
 * its experts) merged into the description written to `<file>.json`. Returns the description.
 */
export function writeModelOnnx(file: string, model: Model, params: unknown, shape: OnnxExportShape = {}, extra: Record<string, unknown> = {}): ExportedOnnx & { file: string; descriptionFile: string; bytesWritten: number } {
  const ex = exportModelOnnx(model, params, shape);
  writeFileAtomic(file, ex.bytes);
  const descriptionFile = `${file}.json`;
  const doc = { format: 'myriad-onnx-export', version: 1, file, opset: ex.opset, inputs: ex.inputs, outputs: ex.outputs, paramCount: ex.paramCount, family: model.family, ...extra };
  writeFileAtomic(descriptionFile, new TextEncoder().encode(JSON.stringify(doc, null, 2) + '\n'));
  return { ...ex, file, descriptionFile, bytesWritten: ex.bytes.length };
}
