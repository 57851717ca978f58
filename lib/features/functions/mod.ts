/**
 * What function files import (as `outpost/functions`): the handler and context types,
 * `HttpError` to answer with a problem+json of one's own, and `readJsonBody` to read a JSON body
 * within a size limit (415, 413 and 400 problems otherwise).
 *
 * @example A function at `functions/hello.ts`, answering `GET /hello`
 * ```ts
 * import type { FunctionContext } from "outpost/functions";
 *
 * export function GET(_req: Request, ctx: FunctionContext): Response {
 *   return Response.json({ hello: ctx.geo.country ?? "world" });
 * }
 * ```
 */

export { HttpError, readJsonBody } from "../../platform/http/errors.ts";
export type {
  FunctionCache,
  FunctionContext,
  FunctionGeo,
  FunctionHandler,
  FunctionKv,
  FunctionLog,
  FunctionManifest,
  FunctionModule,
  FunctionOptions,
  FunctionOrigin,
  FunctionUser,
  JsonValue,
  KvListEntry,
  KvListOptions,
  KvListPage,
  KvPutOptions,
  KvReadOptions,
  TrackEvent,
} from "./types.ts";
