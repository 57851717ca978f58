/**
 * `GET /hello`: a greeting in the language of the country the client is in, and which region
 * is nearest to it. Public (no authorization), never stored by a shared cache, counted as a
 * `greeting` event.
 */

import type { FunctionContext } from "outpost/functions";

const GREETINGS: Record<string, string> = {
  AR: "Hola",
  AT: "Servus",
  BR: "Olá",
  CA: "Hello / Bonjour",
  CH: "Grüezi",
  CN: "Nǐ hǎo",
  DE: "Hallo",
  ES: "Hola",
  FR: "Bonjour",
  IN: "Namaste",
  IT: "Ciao",
  JP: "Konnichiwa",
  KR: "Annyeonghaseyo",
  MX: "Hola",
  NL: "Hallo",
  PT: "Olá",
  SG: "Hello",
};

export function GET(_req: Request, ctx: FunctionContext): Response {
  const { country, region, servedBy } = ctx.geo;
  const greeting = (country && GREETINGS[country]) ?? "Hello";
  ctx.track({ type: "greeting", properties: { country: country ?? "unknown" } });
  return Response.json(
    { greeting, country, nearest_region: region, served_by: servedBy },
    // The answer depends on where the client is: no shared cache may keep it.
    { headers: { "cache-control": "private, no-store" } },
  );
}
