/** Deterministic A/B assignment: a stable hash of (experiment, client key) mapped onto weights. */

import type { Experiment } from "./config.ts";

/** 32-bit FNV-1a over UTF-16 code units; stable across processes, regions and versions. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so that similar keys (consecutive IPs) spread evenly.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** An experiment with its weights precomputed as cumulative fractions of 2^32. */
export interface CompiledExperiment {
  experiment: Experiment;
  names: ReadonlySet<string>;
  /** Upper bounds (exclusive) in [0, 2^32) per variant, in config order. */
  bounds: readonly number[];
}

/** Precomputes the cumulative bounds of an experiment's weights. */
export function compileExperiment(experiment: Experiment): CompiledExperiment {
  const total = experiment.variants.reduce((sum, v) => sum + v.weight, 0);
  let acc = 0;
  const bounds = experiment.variants.map((v) => {
    acc += v.weight;
    return Math.floor((acc / total) * 2 ** 32);
  });
  bounds[bounds.length - 1] = 2 ** 32;
  return { experiment, names: new Set(experiment.variants.map((v) => v.name)), bounds };
}

/** The variant a key falls into; the same key always gets the same variant. */
export function assignVariant(compiled: CompiledExperiment, key: string): string {
  const point = fnv1a32(`${compiled.experiment.name}\u0000${key}`);
  const { bounds, experiment } = compiled;
  for (let i = 0; i < bounds.length; i++) {
    if (point < bounds[i]) return experiment.variants[i].name;
  }
  return experiment.variants[experiment.variants.length - 1].name;
}
