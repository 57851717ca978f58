/**
 * `GET /api/users/:id`: the article's `handleUser`. The user is read from this function's KV
 * namespace when an earlier call stored it, else fetched from the origin (the nearest healthy
 * one, with failover) and kept at the edge for an hour. Under `/api/*`, so only authorized
 * callers reach it (`users:read`).
 */

import { type FunctionContext, HttpError, type JsonValue } from "outpost/functions";

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** How long a user stays at the edge (the article's `expirationTtl: 3600`). */
const TTL_SECONDS = 3600;

async function handleUser(_req: Request, ctx: FunctionContext): Promise<Response> {
  const id = ctx.params.id;
  if (!USER_ID.test(id)) {
    throw new HttpError(400, `Invalid user id: ${id.slice(0, 80)}`, { code: "invalid_user_id" });
  }
  // Check the edge's KV first: a copy from the nearest replica is good enough for a cache.
  const cached = await ctx.kv.get(`user:${id}`, { consistency: "eventual" });
  if (cached !== null) return json(cached, "HIT");
  // Fetch from the origin.
  const res = await ctx.origin.fetch(`/users/${encodeURIComponent(id)}`, {
    headers: { accept: "application/json" },
  });
  if (res.status === 404) {
    await res.body?.cancel();
    throw new HttpError(404, `No such user: ${id}`, { code: "user_not_found" });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new HttpError(502, `The origin answered ${res.status} for user ${id}`, {
      code: "origin_error",
    });
  }
  const user = await res.json() as JsonValue;
  // Keep it at the edge.
  await ctx.kv.put(`user:${id}`, user, { expirationTtl: TTL_SECONDS });
  return json(user, "MISS");
}

function json(user: JsonValue, kv: "HIT" | "MISS"): Response {
  // Per-user data: the edge's KV keeps it, shared caches must not.
  return Response.json(user, {
    headers: { "cache-control": "private, no-store", "x-edge-kv": kv },
  });
}

export { handleUser as GET };
