/** What the notes functions share: the note's shape, its keys, and who owns a request's notes. */

import { z } from "zod";
import { type FunctionContext, HttpError, readJsonBody } from "outpost/functions";

/** One note as stored and answered. */
export type Note = { id: string; author: string; text: string; created_at: string };

const NoteBody = z.object({ text: z.string().trim().min(1).max(1000) }).strict();
const MAX_BODY_BYTES = 4096;

/** The caller's user id; notes are per user, so an unauthorized route is refused. */
export function ownerOf(ctx: FunctionContext): string {
  const id = ctx.user?.id;
  if (!id) {
    throw new HttpError(401, "Notes need a signed-in user", {
      code: "unauthenticated",
      headers: { "www-authenticate": 'Bearer realm="outpost"' },
    });
  }
  return id;
}

/** `note:<owner>:` — the owner is escaped so that one user's prefix never covers another's. */
export function notePrefix(owner: string): string {
  return `note:${encodeURIComponent(owner)}:`;
}

/** The key of one note. */
export function noteKey(owner: string, id: string): string {
  return notePrefix(owner) + id;
}

/** The `{ "text": … }` of a POST, validated (400, 413 and 415 problems otherwise). */
export async function readNoteBody(req: Request): Promise<{ text: string }> {
  const parsed = NoteBody.safeParse(await readJsonBody(req, MAX_BODY_BYTES));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(
      400,
      `Invalid note: ${issue.path.join(".") || "(body)"}: ${issue.message}`,
      {
        code: "invalid_note",
      },
    );
  }
  return parsed.data;
}
