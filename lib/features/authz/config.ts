/** The `authz` section of the edge configuration (see docs/config.md and docs/authz.md). */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";
import { parseJsonText } from "../../platform/config/env.ts";
import { ActionPatternSchema, PolicySchema } from "./policy.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const MethodSchema = z.enum(METHODS);
const RoutePathSchema = z.string().regex(
  /^\/[A-Za-z0-9_.~:\/*-]{0,255}$/,
  "Must be a route path like /api/* or /users/:id",
);
const ClassNameSchema = z.string().regex(/^[a-z0-9_-]{1,64}$/, "Must be 1-64 of a-z 0-9 _ -");

const RateClassSchema = z.object({
  /** Requests per window at the steady rate. */
  limit: z.number().int().min(1).max(1_000_000),
  windowS: z.number().int().min(1).max(86_400),
  /** Requests allowed at once after a quiet period (default: `limit`). */
  burst: z.number().int().min(1).max(1_000_000).optional(),
}).strict();

/** The authorization settings; secrets (`JWT_SECRET`) come only from the environment. */
export const AuthzConfigSchema = z.object({
  enabled: z.boolean().default(true),
  /** Routes that need authorization; everything else pays nothing. */
  protect: z.array(
    z.object({
      path: RoutePathSchema,
      methods: z.array(MethodSchema).min(1).optional(),
    }).strict(),
  ).max(64).default([
    { path: "/api/*" },
    { path: "/items/*", methods: ["POST", "PUT", "PATCH", "DELETE"] },
    { path: "/crdt/*", methods: ["POST", "PUT", "PATCH", "DELETE"] },
  ]),
  /** Path patterns (`/api/public/*`) allowed through when the module or rate store fails. */
  failOpen: z.array(z.string().startsWith("/").max(512)).max(64).default([]),
  /** Let requests without a token through as role `anonymous`, limited per client IP. */
  allowAnonymous: z.boolean().default(false),
  jwt: z.object({
    algorithm: z.enum(["HS256", "RS256", "ES256"]).default("HS256"),
    /** PEM public key (SPKI) for RS256/ES256. */
    publicKey: z.string().max(16_384).optional(),
    /** Inline JWKS (RS256/ES256): keys are chosen by the token's `kid`. */
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(64) })
      .optional(),
    /** Where to fetch a JWKS from (refreshed every `jwksRefreshS`). */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    jwksRefreshS: z.number().int().min(10).max(86_400).default(600),
    issuer: z.string().min(1).max(512).optional(),
    audience: z.string().min(1).max(512).optional(),
    rolesClaim: z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/).default("roles"),
    /** Tokens must carry `exp`. */
    requireExp: z.boolean().default(true),
    leewayS: z.number().int().min(0).max(300).default(30),
    /** Longer `Authorization` headers are refused with 401 before any parsing. */
    maxTokenBytes: z.number().int().min(256).max(16_384).default(4096),
    /** Verified tokens remembered (until they expire) so repeats skip the signature check. */
    cacheSize: z.number().int().min(0).max(1_000_000).default(10_000),
  }).strict().prefault({}),
  /** Inline policy (else `policyPath`, else the built-in default). */
  policy: PolicySchema.optional(),
  /** A policy JSON file, re-read every `policyReloadS` seconds. */
  policyPath: z.string().min(1).max(4096).optional(),
  policyReloadS: z.number().int().min(1).max(86_400).default(10),
  actions: z.object({
    rules: z.array(
      z.object({
        methods: z.array(MethodSchema).min(1).optional(),
        path: RoutePathSchema,
        action: ActionPatternSchema.refine((a) => !a.includes("*"), "Must not contain *"),
      }).strict(),
    ).max(1024).default([]),
    mounts: z.array(z.string().regex(/^\/[A-Za-z0-9_.~-]+(\/[A-Za-z0-9_.~-]+)*$/)).max(32)
      .default(["/api"]),
    verbs: z.partialRecord(MethodSchema, z.string().regex(/^[a-z0-9_.-]{1,64}$/)).default({
      GET: "read",
      HEAD: "read",
      OPTIONS: "read",
      POST: "write",
      PUT: "write",
      PATCH: "write",
      DELETE: "delete",
    }),
  }).strict().prefault({}),
  rateLimit: z.object({
    classes: z.record(ClassNameSchema, RateClassSchema).default({
      standard: { limit: 600, windowS: 60, burst: 100 },
      premium: { limit: 6000, windowS: 60, burst: 1000 },
      anonymous: { limit: 60, windowS: 60, burst: 20 },
    }),
    /** For users none of whose roles names a class. */
    defaultClass: ClassNameSchema.default("standard"),
    /** For anonymous requests (by client IP). */
    anonymousClass: ClassNameSchema.default("anonymous"),
    /** Requests an isolate may take from KV at once and then admit without a round trip. */
    localAllowance: z.number().int().min(1).max(1000).default(10),
    /** How long taken-but-unused requests stay usable locally. */
    leaseMs: z.number().int().min(10).max(60_000).default(1000),
    /** Subjects whose local state is kept per isolate (oldest dropped first). */
    maxLocalKeys: z.number().int().min(10).max(1_000_000).default(10_000),
  }).strict().prefault({}),
  wasm: z.object({
    /** The module; default: the committed `wasm/authz/authz.wasm`. */
    path: z.string().min(1).max(4096).optional(),
    /** Cap on the module's memory in 64 KiB pages; modules declaring more are refused. */
    maxMemoryPages: z.number().int().min(1).max(65_536).default(32),
    /** Largest decision input; longer inputs are refused before reaching the module. */
    maxInputBytes: z.number().int().min(1024).max(1024 * 1024).default(16_384),
  }).strict().prefault({}),
}).strict().superRefine((a, ctx) => {
  const classes = new Set(Object.keys(a.rateLimit.classes));
  for (const field of ["defaultClass", "anonymousClass"] as const) {
    if (!classes.has(a.rateLimit[field])) {
      ctx.addIssue({
        code: "custom",
        path: ["rateLimit", field],
        message: `Unknown rate class: ${a.rateLimit[field]}`,
      });
    }
  }
  if (a.policy) {
    for (const [name, role] of Object.entries(a.policy.roles)) {
      if (role.rateClass !== undefined && !classes.has(role.rateClass)) {
        ctx.addIssue({
          code: "custom",
          path: ["policy", "roles", name, "rateClass"],
          message: `Unknown rate class: ${role.rateClass}`,
        });
      }
    }
  }
  if (a.jwt.algorithm !== "HS256" && !a.jwt.publicKey && !a.jwt.jwks && !a.jwt.jwksUrl) {
    ctx.addIssue({
      code: "custom",
      path: ["jwt", "publicKey"],
      message: `${a.jwt.algorithm} needs publicKey, jwks or jwksUrl`,
    });
  }
  if (a.jwt.algorithm === "HS256" && (a.jwt.publicKey || a.jwt.jwks || a.jwt.jwksUrl)) {
    // HS256 verifies with JWT_SECRET alone: keys given for it would be ignored, and an issuer's
    // RS256/ES256 tokens refused, which is a misconfiguration to name at start-up.
    ctx.addIssue({
      code: "custom",
      path: ["jwt", "algorithm"],
      message: "publicKey, jwks and jwksUrl need RS256 or ES256 (HS256 uses JWT_SECRET)",
    });
  }
  if (a.policy && a.policyPath) {
    ctx.addIssue({ code: "custom", path: ["policyPath"], message: "Give policy or policyPath" });
  }
}).prefault({});

/** The validated `authz` section. */
export type AuthzConfig = z.infer<typeof AuthzConfigSchema>;

/** The fields this feature owns. */
export const AUTHZ_FIELDS = {
  /** Authorization of protected routes (lib/features/authz, docs/authz.md). */
  authz: AuthzConfigSchema,
};

/**
 * Environment variables of this feature. `AUTHZ_POLICY` is inline JSON when it starts with `{`,
 * else a file path; either replaces the other from the module. `JWT_SECRET` is no config field:
 * it is read into the node's secrets.
 */
export const AUTHZ_ENV: EnvTable = {
  AUTHZ_ENABLED: { path: "authz.enabled", kind: "bool" },
  AUTHZ_POLICY: {
    path: "authz.policy",
    kind: "string",
    fields: (value) => {
      const text = value as string;
      return text.startsWith("{")
        ? { "authz.policy": parseJsonText(text), "authz.policyPath": undefined }
        : { "authz.policyPath": text, "authz.policy": undefined };
    },
  },
  JWT_SECRET: { kind: "secret" },
};

/** How the loader reads them. */
export const AUTHZ_CONFIG: FeatureConfig<typeof AUTHZ_FIELDS> = {
  fields: AUTHZ_FIELDS,
  env: AUTHZ_ENV,
};
