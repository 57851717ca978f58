/** The `geo` section: where clients nothing else locates are, and whether the IP database runs. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import { LatitudeSchema, LongitudeSchema } from "../../platform/config/schemas.ts";

const GeoPointSchema = z.object({
  lat: LatitudeSchema,
  lon: LongitudeSchema,
  country: z.string().regex(/^[A-Z]{2}$/).optional(),
});

/** Client location settings. */
export const GeoConfigSchema = z.object({
  /** Location used when no header or IP lookup gives one. */
  defaultLocation: GeoPointSchema.optional(),
  /** Look client IPs up in the offline IP-to-country database. */
  ipDatabase: z.boolean().default(true),
}).prefault({});

/** The validated `geo` section. */
export type GeoConfig = z.infer<typeof GeoConfigSchema>;

/** The fields this feature owns. */
export const GEO_FIELDS = { geo: GeoConfigSchema };

/** How the loader reads them. */
export const GEO_CONFIG: FeatureConfig<typeof GEO_FIELDS> = { fields: GEO_FIELDS };
