/** The `experiments` field: A/B tests run at the edge, each with its paths, cookie and variants. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import { flagDuplicates } from "../../platform/config/schemas.ts";

const VariantSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "Must be 1-32 letters, digits, _ or -"),
  weight: z.number().positive().max(1_000_000),
});

/** An A/B experiment run at the edge. */
export const ExperimentSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "Must be 1-64 letters, digits, _ or -"),
  /** Path patterns: exact paths, or prefixes ending in `*` (e.g. `/api/*`). */
  paths: z.array(z.string().startsWith("/").max(512)).min(1).default(["/api/*"]),
  cookie: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "Must be a simple cookie name")
    .default("variant"),
  /** Request header that tells the origin the variant. */
  header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "Must be a header name").default("X-Variant"),
  /** Header carrying a stable client id to hash instead of the client IP. */
  idHeader: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "Must be a header name").optional(),
  maxAgeSeconds: z.number().int().positive().max(400 * 86400).default(30 * 86400),
  variants: z.array(VariantSchema).min(2).max(32),
}).superRefine((exp, ctx) => {
  flagDuplicates(exp.variants, ctx, {
    name: (v) => v.name,
    path: (i) => ["variants", i, "name"],
    what: "variant",
  });
});
export type Experiment = z.infer<typeof ExperimentSchema>;

/** Every experiment: names and cookies unique. */
export const ExperimentsSchema = z.array(ExperimentSchema).max(32).superRefine(
  (experiments, ctx) => {
    flagDuplicates(experiments, ctx, {
      name: (e) => e.name,
      path: (i) => [i, "name"],
      what: "experiment",
    });
    const cookies = new Map<string, string>();
    experiments.forEach((e, i) => {
      const other = cookies.get(e.cookie);
      if (other !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [i, "cookie"],
          message: `Cookie already used by experiment ${other}: ${e.cookie}`,
        });
      }
      cookies.set(e.cookie, e.name);
    });
  },
).default([]);

/** The zero-config experiment: a 50/50 split of `/api/*` into `A` and `B`. */
export const DEFAULT_EXPERIMENTS: z.input<typeof ExperimentsSchema> = [
  {
    name: "default",
    paths: ["/api/*"],
    variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }],
  },
];

/** The fields this feature owns. */
export const AB_FIELDS = { experiments: ExperimentsSchema };

/** How the loader reads them: without any, the zero-config experiment runs. */
export const AB_CONFIG: FeatureConfig<typeof AB_FIELDS> = {
  fields: AB_FIELDS,
  defaults: () => ({ experiments: DEFAULT_EXPERIMENTS }),
};
