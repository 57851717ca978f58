/**
 * What `/items/:id` answers besides the item itself, as zod schemas: the routes' descriptions
 * name them (loaded with the API document, not at start-up) and tests parse live answers with them.
 */

import { z } from "zod";

/** `PUT /items/:id`. */
export const ItemWrittenSchema = z.object({
  id: z.string(),
  version: z.string().describe("The new version, also the `ETag`"),
  updatedAt: z.number().describe("Epoch ms of the write"),
});
