/**
 * `train`: Myriad's training stack — the `Trainer` (one jitted train step, evaluation, metrics,
 * progress, loss curves, checkpoints, exact resume), train configs validated with zod, data and
 * runs built from configs, MFU support, and generation from saved runs. See docs/training.md.
 */

export { Trainer, arrayBatchSource, checkParamsMatch, type Batch, type BatchSource, type BatchStream, type EvalResult, type StepMetrics, type TrainableModel, type TrainerOptions, type TrainResult } from './trainer.js';
export {
  trainConfigSchema, parseTrainConfig, loadTrainConfig, resolveModelSpec, DEFAULT_UDHR_LANGUAGES, DEFAULT_HELD_OUT_ARTICLES,
  type TrainConfig, type TrainConfigInput, type ModelConfig, type OptimizerConfig, type DataConfig, type ScheduleConfig,
} from './config.js';
export { buildData, buildTokenizer, udhrTask, textTask, paragraphs, checkVocab, type BuiltData, type TokenizerSpec } from './data.js';
export { runTraining, buildOptimizer, buildSchedule, buildModel, RUN_FORMAT, type RunOptions, type RunResult, type RunRecord } from './run.js';
export { loadTrainedModel, generateText, type LoadedRun, type GenerateOptions, type Generation } from './generate.js';
export { measurePeakFlops, matmulParamCount, trainFlopsPerToken, type PeakFlops } from './flops.js';
export { ProgressReporter, readLogRecords, formatDuration, formatRate, formatBytes, type LogRecord, type OutputStream, type ProgressMode, type ProgressOptions } from './progress.js';
export { lossCurveSvg, lossCurvePng, writeLossPlots, encodePng, niceTicks, emaCurve, type CurvePoint, type LossPlotData } from './plot.js';
export { ConfigError, TrainError } from './errors.js';
export * from './sharded.js';
