/** A bare `Deno.serve` WebSocket echo: the origin the WebSocket benchmark compares against. */
const port = Number(Deno.env.get("PORT") ?? 8200);
Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("ok");
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});
