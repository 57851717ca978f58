/**
 * `GET /api/notes/:id` reads one of the caller's notes; `DELETE` removes it (`notes:delete`,
 * which the default policy gives to admins only). Same `notes` namespace as `api/notes`.
 */

import { type FunctionContext, type FunctionOptions, HttpError } from "outpost/functions";
import { type Note, noteKey, ownerOf } from "./_notes.ts";

export const config: FunctionOptions = { kv: "notes" };

const NOTE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function idOf(ctx: FunctionContext): string {
  const id = ctx.params.id;
  if (!NOTE_ID.test(id)) {
    throw new HttpError(400, `Invalid note id: ${id.slice(0, 40)}`, { code: "invalid_note_id" });
  }
  return id;
}

export async function GET(_req: Request, ctx: FunctionContext): Promise<Response> {
  const id = idOf(ctx);
  const note = await ctx.kv.get<Note>(noteKey(ownerOf(ctx), id));
  if (note === null) throw new HttpError(404, `No such note: ${id}`, { code: "note_not_found" });
  return Response.json(note, { headers: { "cache-control": "private, no-store" } });
}

export async function DELETE(_req: Request, ctx: FunctionContext): Promise<Response> {
  await ctx.kv.delete(noteKey(ownerOf(ctx), idOf(ctx)));
  return new Response(null, { status: 204 });
}
