/**
 * VJP rules: placeholder until the rule table lands.
 */
import type { VjpRule } from './autodiff.js';
import type { Primitive } from './primitives.js';
export const vjpRules = {} as { [P in Primitive]: VjpRule<P> };
