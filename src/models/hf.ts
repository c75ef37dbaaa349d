/**
 * The mapping between Myriad's T5 parameters (T5X layout) and Hugging Face `transformers` T5
 * checkpoint names (`T5ForConditionalGeneration` state dicts, as stored in Flan-T5's
 * `model.safetensors`), so that a later loader can read Flan-T5 checkpoints and a writer can
 * export them. HF `nn.Linear` weights are stored [out, in]; Myriad kernels are [in…, out…] with
 * attention heads split out ([embed, heads, kv] and [heads, kv, embed]), so most entries are
 * "flatten the leading `inDims` dims and the rest to a matrix, then transpose". The relative
 * position bias is `rel_embedding` [heads, buckets] here and `relative_attention_bias.weight`
 * [buckets, heads] in HF, where it lives in block 0 of each stack (T5X keeps it at stack level;
 * either way every block of the stack uses it). See docs/models.md for the full table.
 */

import { Array, ShapeDtypeStruct } from '../core/array.js';
import { ModelError, namedLeaves } from '../nn/module.js';

/** How one HF tensor relates to one Myriad parameter. */
export interface HfEntry {
  /** Dotted path of the Myriad parameter (e.g. `encoder.layers_0.attention.query.kernel`). */
  path: string;
  /** Whether the HF tensor is the transpose of the Myriad parameter viewed as a matrix. */
  transpose: boolean;
  /** Number of leading Myriad dims flattened into the matrix's first axis (the rest form the second). */
  inDims: number;
  /** Shape of the Myriad parameter. */
  shape: number[];
  /** Shape of the HF tensor. */
  hfShape: number[];
}

/** A host tensor (row-major float32), as a safetensors reader returns it. */
export interface HostTensor {
  data: Float32Array;
  shape: number[];
}

type Shaped = Array | ShapeDtypeStruct | { shape: readonly number[] };

function shapeAt(leaves: Map<string, Shaped>, path: string): number[] {
  const l = leaves.get(path);
  if (!l) throw new ModelError(`hfT5Names: the params have no ${path}; are these T5 params (T5X layout, from models.T5)?`);
  return [...l.shape];
}

/**
 * The HF T5 name of every parameter of a T5 params tree (Arrays or ShapeDtypeStructs from
 * `nn.evalShape`), with the path and the transpose needed. Layer counts, gating (`wi_0`/`wi_1`
 * vs `wi`) and the untied head (`lm_head.weight`) are read from the params. The HF aliases
 * `encoder.embed_tokens.weight` and `decoder.embed_tokens.weight` (tied to `shared.weight`)
 * are not listed.
 */
export function hfT5Names(params: unknown): Map<string, HfEntry> {
  const leaves = new Map<string, Shaped>(namedLeaves<Shaped>(params).map(({ path, leaf }) => [path, leaf]));
  const out = new Map<string, HfEntry>();
  const add = (hf: string, path: string, transpose: boolean, inDims: number) => {
    const shape = shapeAt(leaves, path);
    const rows = shape.slice(0, inDims).reduce((a, b) => a * b, 1);
    const cols = shape.slice(inDims).reduce((a, b) => a * b, 1);
    const hfShape = inDims === shape.length ? [rows] : transpose ? [cols, rows] : [rows, cols];
    out.set(hf, { path, transpose, inDims, shape, hfShape });
  };
  const count = (prefix: string) => {
    let n = 0;
    while ([...leaves.keys()].some((k) => k.startsWith(`${prefix}.layers_${n}.`))) n++;
    if (n === 0) throw new ModelError(`hfT5Names: no ${prefix}.layers_0 in the params; are these T5 params?`);
    return n;
  };
  const attn = (hfPrefix: string, path: string) => {
    add(`${hfPrefix}.q.weight`, `${path}.query.kernel`, true, 1);
    add(`${hfPrefix}.k.weight`, `${path}.key.kernel`, true, 1);
    add(`${hfPrefix}.v.weight`, `${path}.value.kernel`, true, 1);
    add(`${hfPrefix}.o.weight`, `${path}.out.kernel`, true, 2);
  };
  const mlp = (hfPrefix: string, path: string) => {
    if (leaves.has(`${path}.wi_0.kernel`)) {
      add(`${hfPrefix}.wi_0.weight`, `${path}.wi_0.kernel`, true, 1);
      add(`${hfPrefix}.wi_1.weight`, `${path}.wi_1.kernel`, true, 1);
    } else add(`${hfPrefix}.wi.weight`, `${path}.wi.kernel`, true, 1);
    add(`${hfPrefix}.wo.weight`, `${path}.wo.kernel`, true, 1);
  };
  add('shared.weight', 'token_embedder.embedding', false, 1);
  const nEnc = count('encoder');
  for (let i = 0; i < nEnc; i++) {
    const p = `encoder.layers_${i}`;
    const h = `encoder.block.${i}.layer`;
    attn(`${h}.0.SelfAttention`, `${p}.attention`);
    add(`${h}.0.layer_norm.weight`, `${p}.pre_attention_layer_norm.scale`, false, 1);
    mlp(`${h}.1.DenseReluDense`, `${p}.mlp`);
    add(`${h}.1.layer_norm.weight`, `${p}.pre_mlp_layer_norm.scale`, false, 1);
  }
  add('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', 'encoder.relpos_bias.rel_embedding', true, 1);
  add('encoder.final_layer_norm.weight', 'encoder.encoder_norm.scale', false, 1);
  const nDec = count('decoder');
  for (let i = 0; i < nDec; i++) {
    const p = `decoder.layers_${i}`;
    const h = `decoder.block.${i}.layer`;
    attn(`${h}.0.SelfAttention`, `${p}.self_attention`);
    add(`${h}.0.layer_norm.weight`, `${p}.pre_self_attention_layer_norm.scale`, false, 1);
    attn(`${h}.1.EncDecAttention`, `${p}.encoder_decoder_attention`);
    add(`${h}.1.layer_norm.weight`, `${p}.pre_cross_attention_layer_norm.scale`, false, 1);
    mlp(`${h}.2.DenseReluDense`, `${p}.mlp`);
    add(`${h}.2.layer_norm.weight`, `${p}.pre_mlp_layer_norm.scale`, false, 1);
  }
  add('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', 'decoder.relpos_bias.rel_embedding', true, 1);
  add('decoder.final_layer_norm.weight', 'decoder.decoder_norm.scale', false, 1);
  if (leaves.has('decoder.logits_dense.kernel')) add('lm_head.weight', 'decoder.logits_dense.kernel', true, 1);
  const unmapped = [...leaves.keys()].filter((k) => ![...out.values()].some((e) => e.path === k));
  if (unmapped.length) throw new ModelError(`hfT5Names: parameters without an HF name: ${unmapped.slice(0, 5).join(', ')}`);
  return out;
}

function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[off + c];
  }
  return out;
}

function matrixDims(e: HfEntry): [number, number] {
  const rows = e.shape.slice(0, e.inDims).reduce((a, b) => a * b, 1);
  const cols = e.shape.slice(e.inDims).reduce((a, b) => a * b, 1);
  return [rows, cols];
}

/** Converts a T5 params tree (concrete Arrays) to HF-named float32 host tensors. */
export function toHfT5(params: unknown): Map<string, HostTensor> {
  const names = hfT5Names(params);
  const leaves = new Map(namedLeaves<Array>(params).map(({ path, leaf }) => [path, leaf]));
  const out = new Map<string, HostTensor>();
  for (const [hf, e] of names) {
    const a = leaves.get(e.path)!;
    if (!(a instanceof Array)) throw new ModelError(`toHfT5: ${e.path} is not a concrete Array`);
    const data = Float32Array.from(a.dataSync());
    const [rows, cols] = matrixDims(e);
    out.set(hf, { data: e.transpose ? transpose2d(data, rows, cols) : data, shape: e.hfShape });
  }
  return out;
}

/**
 * Builds T5 params from HF-named host tensors (e.g. read from Flan-T5's model.safetensors),
 * using `template` (params or ShapeDtypeStructs, e.g. `nn.evalShape(k => T5('t5-small').init(k), key)`)
 * for the structure. Every name must be present with the expected shape; extra HF tensors
 * (the tied aliases `*.embed_tokens.weight`) are ignored.
 */
export function fromHfT5<P = unknown>(tensors: Map<string, HostTensor>, template: P): P {
  const names = hfT5Names(template);
  const byPath = new Map<string, Array>();
  for (const [hf, e] of names) {
    const t = tensors.get(hf);
    if (!t) throw new ModelError(`fromHfT5: the checkpoint has no tensor ${hf} (needed for ${e.path})`);
    if (t.shape.length !== e.hfShape.length || t.shape.some((d, i) => d !== e.hfShape[i])) {
      throw new ModelError(`fromHfT5: ${hf} has shape [${t.shape.join(', ')}] but the model expects [${e.hfShape.join(', ')}]; check the config (dModel, numHeads, headDim, mlpDim, vocabSize)`);
    }
    const [rows, cols] = matrixDims(e);
    const data = e.transpose ? transpose2d(t.data, cols, rows) : Float32Array.from(t.data);
    byPath.set(e.path, Array.fromData(data, e.shape, 'float32'));
  }
  const rebuild = (node: unknown, prefix: string): unknown => {
    if (node && typeof node === 'object' && Object.getPrototypeOf(node) === Object.prototype) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(node as object)) o[k] = rebuild((node as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k);
      return o;
    }
    const a = byPath.get(prefix);
    if (!a) throw new ModelError(`fromHfT5: no HF tensor maps to ${prefix}`);
    return a;
  };
  return rebuild(template, '') as P;
}
