/**
 * Reading and writing SentencePiece `.model` files: the `ModelProto` protobuf message of
 * sentencepiece_model.proto (proto2), which is what T5's `spiece.model` is. The schema is built
 * in code with protobufjs reflection from the public field numbers; names are camel-cased for
 * TypeScript, which does not change the wire format.
 *
 * Decoding keeps field presence: a field the file does not set stays `undefined`, so
 * `encodeModelProto(decodeModelProto(bytes))` reproduces a file written by SentencePiece byte for
 * byte (fields are written in field-number order, as protobuf C++ does). Defaults live in
 * `TRAINER_SPEC_DEFAULTS` / `NORMALIZER_SPEC_DEFAULTS` and are applied by `trainerSpecWithDefaults`
 * and `normalizerSpecWithDefaults`. Fields this schema does not know are dropped on decode.
 */

import protobuf from 'protobufjs';
import { PieceType, TokenizerError } from './types.js';

/** One vocabulary entry: `ModelProto.SentencePiece`. */
export interface ProtoPiece {
  piece?: string;
  score?: number;
  type?: PieceType;
}

/** `TrainerSpec`: the options a model was trained with (also read by the encoder: byte fallback, special pieces). */
export interface TrainerSpec {
  input?: string[];
  modelPrefix?: string;
  /** 1 = UNIGRAM, 2 = BPE, 3 = WORD, 4 = CHAR. */
  modelType?: number;
  vocabSize?: number;
  acceptLanguage?: string[];
  selfTestSampleSize?: number;
  inputFormat?: string;
  characterCoverage?: number;
  inputSentenceSize?: number;
  miningSentenceSize?: number;
  trainingSentenceSize?: number;
  seedSentencepieceSize?: number;
  shrinkingFactor?: number;
  numThreads?: number;
  numSubIterations?: number;
  maxSentenceLength?: number;
  shuffleInputSentence?: boolean;
  maxSentencepieceLength?: number;
  splitByUnicodeScript?: boolean;
  splitByWhitespace?: boolean;
  splitByNumber?: boolean;
  treatWhitespaceAsSuffix?: boolean;
  splitDigits?: boolean;
  allowWhitespaceOnlyPieces?: boolean;
  controlSymbols?: string[];
  userDefinedSymbols?: string[];
  vocabularyOutputPieceScore?: boolean;
  hardVocabLimit?: boolean;
  useAllVocab?: boolean;
  byteFallback?: boolean;
  requiredChars?: string;
  unkId?: number;
  bosId?: number;
  eosId?: number;
  padId?: number;
  unkSurface?: string;
  unkPiece?: string;
  bosPiece?: string;
  eosPiece?: string;
  padPiece?: string;
  trainExtremelyLargeCorpus?: boolean;
  enableDifferentialPrivacy?: boolean;
  differentialPrivacyNoiseLevel?: number;
  differentialPrivacyClippingThreshold?: number;
  pretokenizationDelimiter?: string;
  seedSentencepiecesFile?: string;
}

/** `NormalizerSpec`: how text is normalized before segmentation. */
export interface NormalizerSpec {
  name?: string;
  /** Compiled rules: `<uint32 LE trie size><darts-clone double array><NUL-terminated targets>`. */
  precompiledCharsmap?: Uint8Array;
  addDummyPrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  escapeWhitespaces?: boolean;
  normalizationRuleTsv?: string;
}

/** `SelfTestData`: sample inputs and their expected segmentation. */
export interface SelfTestData {
  samples?: { input?: string; expected?: string }[];
}

/** `ModelProto`: a complete SentencePiece model. */
export interface ModelProto {
  pieces: ProtoPiece[];
  trainerSpec?: TrainerSpec;
  normalizerSpec?: NormalizerSpec;
  selfTestData?: SelfTestData;
  denormalizerSpec?: NormalizerSpec;
}

/** Proto2 defaults of `TrainerSpec` (sentencepiece_model.proto). */
export const TRAINER_SPEC_DEFAULTS = {
  modelType: 1,
  vocabSize: 8000,
  selfTestSampleSize: 0,
  inputFormat: '',
  characterCoverage: 0.9995,
  inputSentenceSize: 0,
  seedSentencepieceSize: 1000000,
  shrinkingFactor: 0.75,
  maxSentenceLength: 4192,
  numThreads: 16,
  numSubIterations: 2,
  shuffleInputSentence: true,
  maxSentencepieceLength: 16,
  splitByUnicodeScript: true,
  splitByWhitespace: true,
  splitByNumber: true,
  treatWhitespaceAsSuffix: false,
  splitDigits: false,
  allowWhitespaceOnlyPieces: false,
  vocabularyOutputPieceScore: true,
  hardVocabLimit: true,
  useAllVocab: false,
  byteFallback: false,
  requiredChars: '',
  unkId: 0,
  bosId: 1,
  eosId: 2,
  padId: -1,
  unkSurface: ' \u2047 ',
  unkPiece: '<unk>',
  bosPiece: '<s>',
  eosPiece: '</s>',
  padPiece: '<pad>',
} as const;

/** Proto2 defaults of `NormalizerSpec`. */
export const NORMALIZER_SPEC_DEFAULTS = {
  name: '',
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  escapeWhitespaces: true,
} as const;

type Defaulted<T, D> = Omit<T, keyof D> & { [K in keyof D & keyof T]-?: Exclude<T[K], undefined> };

/** `spec` with every field that has a proto2 default filled in. */
export function trainerSpecWithDefaults(spec: TrainerSpec | undefined): Defaulted<TrainerSpec, typeof TRAINER_SPEC_DEFAULTS> {
  const out: Record<string, unknown> = { ...TRAINER_SPEC_DEFAULTS };
  for (const [k, v] of Object.entries(spec ?? {})) if (v !== undefined) out[k] = v;
  return out as unknown as Defaulted<TrainerSpec, typeof TRAINER_SPEC_DEFAULTS>;
}

/** `spec` with every field that has a proto2 default filled in. */
export function normalizerSpecWithDefaults(spec: NormalizerSpec | undefined): Defaulted<NormalizerSpec, typeof NORMALIZER_SPEC_DEFAULTS> {
  const out: Record<string, unknown> = { ...NORMALIZER_SPEC_DEFAULTS };
  for (const [k, v] of Object.entries(spec ?? {})) if (v !== undefined) out[k] = v;
  return out as unknown as Defaulted<NormalizerSpec, typeof NORMALIZER_SPEC_DEFAULTS>;
}

// ---------------------------------------------------------------------------------------------
// Schema (field numbers from the public sentencepiece_model.proto).

type FieldDef = [name: string, id: number, type: string, rule?: 'repeated'];

const TRAINER_SPEC_FIELDS: FieldDef[] = [
  ['input', 1, 'string', 'repeated'],
  ['modelPrefix', 2, 'string'],
  ['modelType', 3, 'int32'],
  ['vocabSize', 4, 'int32'],
  ['acceptLanguage', 5, 'string', 'repeated'],
  ['selfTestSampleSize', 6, 'int32'],
  ['inputFormat', 7, 'string'],
  ['characterCoverage', 10, 'float'],
  ['inputSentenceSize', 11, 'uint64'],
  ['miningSentenceSize', 12, 'int32'],
  ['trainingSentenceSize', 13, 'int32'],
  ['seedSentencepieceSize', 14, 'int32'],
  ['shrinkingFactor', 15, 'float'],
  ['numThreads', 16, 'int32'],
  ['numSubIterations', 17, 'int32'],
  ['maxSentenceLength', 18, 'int32'],
  ['shuffleInputSentence', 19, 'bool'],
  ['maxSentencepieceLength', 20, 'int32'],
  ['splitByUnicodeScript', 21, 'bool'],
  ['splitByWhitespace', 22, 'bool'],
  ['splitByNumber', 23, 'bool'],
  ['treatWhitespaceAsSuffix', 24, 'bool'],
  ['splitDigits', 25, 'bool'],
  ['allowWhitespaceOnlyPieces', 26, 'bool'],
  ['controlSymbols', 30, 'string', 'repeated'],
  ['userDefinedSymbols', 31, 'string', 'repeated'],
  ['vocabularyOutputPieceScore', 32, 'bool'],
  ['hardVocabLimit', 33, 'bool'],
  ['useAllVocab', 34, 'bool'],
  ['byteFallback', 35, 'bool'],
  ['requiredChars', 36, 'string'],
  ['unkId', 40, 'int32'],
  ['bosId', 41, 'int32'],
  ['eosId', 42, 'int32'],
  ['padId', 43, 'int32'],
  ['unkSurface', 44, 'string'],
  ['unkPiece', 45, 'string'],
  ['bosPiece', 46, 'string'],
  ['eosPiece', 47, 'string'],
  ['padPiece', 48, 'string'],
  ['trainExtremelyLargeCorpus', 49, 'bool'],
  ['enableDifferentialPrivacy', 50, 'bool'],
  ['differentialPrivacyNoiseLevel', 51, 'float'],
  ['differentialPrivacyClippingThreshold', 52, 'uint64'],
  ['pretokenizationDelimiter', 53, 'string'],
  ['seedSentencepiecesFile', 54, 'string'],
];

const NORMALIZER_SPEC_FIELDS: FieldDef[] = [
  ['name', 1, 'string'],
  ['precompiledCharsmap', 2, 'bytes'],
  ['addDummyPrefix', 3, 'bool'],
  ['removeExtraWhitespaces', 4, 'bool'],
  ['escapeWhitespaces', 5, 'bool'],
  ['normalizationRuleTsv', 6, 'string'],
];

function makeType(name: string, fields: FieldDef[]): protobuf.Type {
  const t = new protobuf.Type(name);
  for (const [fname, id, type, rule] of fields) t.add(new protobuf.Field(fname, id, type, rule ?? 'optional'));
  return t;
}

let cachedModelType: protobuf.Type | undefined;

function modelProtoType(): protobuf.Type {
  if (cachedModelType) return cachedModelType;
  const root = new protobuf.Root();
  const ns = root.define('sentencepiece');
  ns.add(makeType('TrainerSpec', TRAINER_SPEC_FIELDS));
  ns.add(makeType('NormalizerSpec', NORMALIZER_SPEC_FIELDS));
  const sample = makeType('Sample', [['input', 1, 'string'], ['expected', 2, 'string']]);
  const selfTest = makeType('SelfTestData', [['samples', 1, 'Sample', 'repeated']]);
  selfTest.add(sample);
  ns.add(selfTest);
  const piece = makeType('SentencePiece', [['piece', 1, 'string'], ['score', 2, 'float'], ['type', 3, 'int32']]);
  const model = makeType('ModelProto', [
    ['pieces', 1, 'SentencePiece', 'repeated'],
    ['trainerSpec', 2, 'TrainerSpec'],
    ['normalizerSpec', 3, 'NormalizerSpec'],
    ['selfTestData', 4, 'SelfTestData'],
    ['denormalizerSpec', 5, 'NormalizerSpec'],
  ]);
  model.add(piece);
  ns.add(model);
  root.resolveAll();
  cachedModelType = root.lookupType('sentencepiece.ModelProto');
  return cachedModelType;
}

/**
 * Parses the bytes of a `.model` file. Throws `TokenizerError` when the bytes are not a
 * protobuf `ModelProto` or a piece has an unknown type.
 */
export function decodeModelProto(bytes: Uint8Array, source = 'model bytes'): ModelProto {
  const T = modelProtoType();
  let obj: Record<string, unknown>;
  try {
    const msg = T.decode(bytes);
    obj = T.toObject(msg, { longs: Number, enums: Number, defaults: false, arrays: false }) as Record<string, unknown>;
  } catch (e) {
    throw new TokenizerError(
      `${source} is not a SentencePiece model (protobuf ModelProto): ${(e as Error).message}. ` +
        'Pass a .model file written by spm_train or by Myriad (tokenizer train).',
    );
  }
  const proto = obj as unknown as ModelProto;
  proto.pieces = proto.pieces ?? [];
  for (let i = 0; i < proto.pieces.length; i++) {
    const t = proto.pieces[i].type;
    if (t !== undefined && !(t in PieceType)) {
      throw new TokenizerError(`${source}: piece ${i} (${JSON.stringify(proto.pieces[i].piece)}) has unknown type ${t}; expected 1..6.`);
    }
  }
  const cm = proto.normalizerSpec?.precompiledCharsmap;
  if (cm && !(cm instanceof Uint8Array)) proto.normalizerSpec!.precompiledCharsmap = new Uint8Array(cm as ArrayLike<number>);
  return proto;
}

/** Serializes a `ModelProto` to the bytes of a `.model` file. */
export function encodeModelProto(proto: ModelProto): Uint8Array {
  const T = modelProtoType();
  const err = T.verify(proto);
  if (err) throw new TokenizerError(`cannot serialize ModelProto: ${err}`);
  return T.encode(T.fromObject(proto as unknown as Record<string, unknown>)).finish();
}
