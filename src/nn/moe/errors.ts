/**
 * The error class of the mixture-of-experts library (`src/nn/moe/`): bad router or layer
 * configs, inputs of the wrong shape, and misuse such as expert-choice routing in a causal
 * decoder. A subclass of the `nn` ModelError so callers can catch either.
 */

import { ModelError } from '../module.js';

/** Thrown for bad MoE configs, inputs and misuse (e.g. expert choice in a causal decoder). */
export class MoeError extends ModelError {}
