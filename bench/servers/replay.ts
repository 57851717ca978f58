/**
 * Bare `Deno.serve` answering every request with one recorded response: the status, header
 * fields and body fetched once from `REPLAY_URL` at start (`Date` and `Content-Length` are left
 * to the server, as for any response). It is the floor for that response: what sending those
 * exact bytes costs Deno with no work behind them.
 */
const port = Number(Deno.env.get("PORT") ?? 8100);
const source = Deno.env.get("REPLAY_URL");
if (!source) throw new Error("REPLAY_URL is required");

const recorded = await fetch(source);
const body = new Uint8Array(await recorded.arrayBuffer());
const status = recorded.status;
const fields: [string, string][] = [];
recorded.headers.forEach((value, name) => {
  if (name !== "date" && name !== "content-length") fields.push([name, value]);
});

Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, () => {
  const res = status === 200 ? new Response(body) : new Response(body, { status });
  const h = res.headers;
  h.delete("content-type");
  for (const [name, value] of fields) h.append(name, value);
  return res;
});
