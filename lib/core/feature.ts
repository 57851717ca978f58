/**
 * The one shape every feature has: a name, the config fields it owns (schema, environment
 * variables, defaults), and `create(services, config)` returning the parts the core wires in
 * (routes, stages of the pipeline, an answer before routing, jobs, health conditions, lifecycle).
 * `lib/core/registry.ts` lists the features; `lib/core/app.ts` loops over them.
 */

import type { Hono, MiddlewareHandler } from "hono";
import type { z } from "zod";
import type { EnvTable } from "../platform/config/env.ts";
import type { ConditionCheck } from "./conditions.ts";
import type { EdgeConfig } from "./config.ts";
import type { JobSpec } from "./jobs.ts";
import type { AppEnv, EdgeRequestContext, ServeInfo } from "./request.ts";
import type { Services } from "./services.ts";
// Each feature adds its api to `FeatureApis` in its own feature.ts; importing the registry's
// types here makes every one of them visible wherever `svc.use(name)` is type-checked.
import type {} from "./registry.ts";

/**
 * What each feature offers the features after it, by name (`svc.use("cache")`). A feature adds
 * its entry from its own folder:
 *
 * ```ts
 * declare module "../../core/feature.ts" {
 *   interface FeatureApis { cache: EdgeCache }
 * }
 * ```
 */
// deno-lint-ignore no-empty-interface
export interface FeatureApis {}

/**
 * What the process hands `createApp` for particular features (an IP database, a compiled policy
 * module, the functions manifest …), added by each feature like {@linkcode FeatureApis}.
 */
// deno-lint-ignore no-empty-interface
export interface FeatureInputs {}

/** Root config fields by name, each with its schema (most features own one: their section). */
export type ConfigFields = Record<string, z.ZodType>;

/** The validated values of `F`. */
export type ConfigOf<F extends ConfigFields> = { [K in keyof F]: z.output<F[K]> };

/** What a feature's `defaults` may look at while the config is loaded. */
export interface LoadContext {
  /** `OUTPOST_MODE` or the module's `mode` (production unless development is asked for). */
  readonly mode: string;
  readonly dev: boolean;
  /** On Deno Deploy (the platform's predefined variables say so). */
  readonly onDeploy: boolean;
  /** The config module's default export. */
  readonly module: Readonly<Record<string, unknown>>;
  /** The value at a dotted path as the environment or else the module gives it (no defaults). */
  given(path: string): unknown;
  /** Whether an environment variable set the field at `path`. */
  fromEnv(path: string): boolean;
  /** Refuses the config with this message (`<field>: <reason>`). */
  error(message: string): void;
}

/** The part of the configuration a feature owns. */
export interface FeatureConfig<F extends ConfigFields> {
  fields: F;
  /** The environment variables that set these fields. */
  env?: EnvTable;
  /**
   * Defaults that depend on the mode, the platform or other settings, by dotted path (`*`: every
   * array element): each applies where neither the module nor the environment gives a value.
   */
  defaults?(ctx: LoadContext): Record<string, unknown>;
  /** Rules across fields, this feature's and the core's (issues name the field by path). */
  check?(cfg: EdgeConfig, ctx: z.RefinementCtx): void;
}

/**
 * The named phases of the main router, in order. Stages before the routes see every request;
 * the features' own routes come next; the catch-all stages see what no route answered.
 */
export const PHASES = {
  /** Before authorization: credentials in another form (a WebSocket's token subprotocol). */
  credentials: "before",
  authorize: "before",
  /** Automatic analytics tracking. */
  track: "before",
  /** A/B assignment. */
  variant: "after",
  /** WebSocket upgrades relayed to an origin. */
  upgrade: "after",
  cache: "after",
  /** The nearest healthy origin: answers everything that reaches it. */
  origin: "after",
} as const;

/** A phase of the main router. */
export type Phase = keyof typeof PHASES;

/** Middleware in a named phase of the pipeline. */
export interface Stage {
  phase: Phase;
  handler: MiddlewareHandler<AppEnv>;
}

/** Whether a request may be answered before routing, or which routed stage needs it. */
export type RoutedCheck = (method: string, path: string) => boolean;

/** Answers before routing, for requests no routed stage needs to see. */
export interface FastPath {
  /** True when a routed stage of this feature must see this request (it then is not answered early). */
  veto?: RoutedCheck;
  /**
   * The answer, or null to route the request. `routed(method, path)` says whether some feature's
   * stage must see it (ask only when about to answer: it costs a little). A rejected promise is
   * answered like an error in the router (problem+json, logged).
   */
  serve?(
    req: Request,
    ctx: EdgeRequestContext,
    routed: RoutedCheck,
    info: ServeInfo | undefined,
  ): Response | Promise<Response> | null;
}

/** What a feature does to every answer on its way out. */
export interface Finish {
  /** Before the node's identity is stamped (e.g. what a CDN in front may do with it). */
  stamp?(req: Request, res: Response, ctx: EdgeRequestContext): Response;
  /** Once the answer is final (metrics, the request log). */
  record?(req: Request, status: number, ctx: EdgeRequestContext): void;
}

/** A secret the node runs without, and what answers 503 because of it. */
export interface MissingSecret {
  name: string;
  disables: string;
}

/** What `create` gives the core to wire in. Everything is optional. */
export interface FeatureParts<Api> {
  /** What later features may use (`svc.use(name)`); absent: the feature is off. */
  api?: Api;
  /** Routes under `/_edge/*` (a sub-app built with `basePath("/_edge")`), in registry order. */
  edgeRoutes?: Hono<AppEnv>;
  /** Mounted on the main router after the stages before routes, in registry order. */
  routes?: Hono<AppEnv>;
  stages?: Stage[];
  fastPath?: FastPath;
  finish?: Finish;
  jobs?: JobSpec[];
  /** Health conditions checked on every health evaluation, by name. */
  conditions?: Record<string, ConditionCheck>;
  /** The secrets this feature runs without (health says degraded for each). */
  missingSecrets?: MissingSecret[];
  /** After the jobs start (`edge.start()`; not called by `createApp`, so tests stay deterministic). */
  start?(): void;
  /**
   * Loads code the feature left out of start-up (`edge.warm()`, which main.ts calls once the
   * first answer is out, so the request that woke the isolate does not wait for it). Optional
   * for correctness: whatever needs that code loads it itself when it comes first.
   */
  warm?(): Promise<void>;
  /** After the jobs stopped, in reverse registry order; waits at most about `graceMs`. */
  close?(options: { graceMs?: number }): void | Promise<void>;
}

/** The api type a feature named `Name` declared in {@linkcode FeatureApis}. */
export type ApiOf<Name extends string> = Name extends keyof FeatureApis ? FeatureApis[Name]
  : never;

/** A feature: its name, the config it owns, and how it is built from the services. */
export interface Feature<Name extends string, F extends ConfigFields = Record<never, never>> {
  name: Name;
  config?: FeatureConfig<F>;
  create(svc: Services, cfg: ConfigOf<F>): FeatureParts<ApiOf<Name>>;
}
