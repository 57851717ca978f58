/**
 * `GET /api/notes` lists the caller's notes; `POST /api/notes` adds one. Authorization decides
 * before the function runs: reading needs `notes:read` (viewer), writing `notes:write` (editor).
 * Notes live in the `notes` KV namespace, shared with `api/notes/[id]`.
 */

import { z } from "zod";
import { monotonicFactory } from "ulid";
import type { FunctionContext, FunctionOptions } from "outpost/functions";
import { type Note, noteKey, notePrefix, ownerOf, readNoteBody } from "./_notes.ts";

export const config: FunctionOptions = { kv: "notes" };

const nextId = monotonicFactory();
const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(4096).optional(),
});

export async function GET(req: Request, ctx: FunctionContext): Promise<Response> {
  const owner = ownerOf(ctx);
  const query = ListQuery.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!query.success) {
    return Response.json({ error: query.error.issues[0].message }, { status: 400 });
  }
  const page = await ctx.kv.list({
    prefix: notePrefix(owner),
    limit: query.data.limit,
    cursor: query.data.cursor,
  });
  return Response.json(
    { notes: page.entries.map((e) => e.value as Note), next_cursor: page.cursor },
    { headers: { "cache-control": "private, no-store" } },
  );
}

export async function POST(req: Request, ctx: FunctionContext): Promise<Response> {
  const owner = ownerOf(ctx);
  const { text } = await readNoteBody(req);
  const note: Note = { id: nextId(), author: owner, text, created_at: new Date().toISOString() };
  await ctx.kv.put(noteKey(owner, note.id), note);
  ctx.track({ type: "note_created", properties: { length: text.length } });
  return Response.json(note, {
    status: 201,
    headers: { location: `/api/notes/${note.id}`, "cache-control": "no-store" },
  });
}
