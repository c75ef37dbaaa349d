/**
 * Public API of Myriad's tokenizers: the `Tokenizer` interface; `SentencePieceTokenizer` (load,
 * encode, decode and save SentencePiece unigram `.model` files such as T5's `spiece.model`);
 * `trainUnigram` / `trainUnigramFromFiles` (train such models); Hugging Face Unigram
 * `tokenizer.json` reading and writing; `ByteTokenizer` (ByT5-style bytes); the `ModelProto`
 * codec; normalization rule sets; and UDHR text for experiments.
 */

export { TokenizerError, PieceType, SPACE_SYMBOL, byteToPiece, pieceToByte, type Tokenizer } from './types.js';
export { SentencePieceTokenizer, decodeUtf8Lenient, type EncodedPiece } from './model.js';
export { trainUnigram, trainUnigramFromFiles, type UnigramTrainerOptions, type TrainProgress } from './trainer.js';
export { ByteTokenizer } from './byte.js';
export { fromHuggingFaceJson, loadHuggingFaceTokenizer, toHuggingFaceJson, type HfTokenizerJson } from './hf.js';
export {
  decodeModelProto, encodeModelProto, trainerSpecWithDefaults, normalizerSpecWithDefaults,
  TRAINER_SPEC_DEFAULTS, NORMALIZER_SPEC_DEFAULTS,
  type ModelProto, type ProtoPiece, type TrainerSpec, type NormalizerSpec, type SelfTestData,
} from './proto.js';
export { Normalizer, PrefixMatcher, type NormalizerConfig } from './normalizer.js';
export {
  compileCharsMap, decompileCharsMap, nfkcRules, nmtNfkcRules, precompiledCharsmapFor, rulesFor,
  NORMALIZATION_NAMES, type CharsMap, type NormalizationName,
} from './charsmap.js';
export { DoubleArray, buildDoubleArray } from './darts.js';
export { udhrCodes, udhrParagraphs } from './corpus.js';
