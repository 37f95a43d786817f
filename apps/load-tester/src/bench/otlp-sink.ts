/**
 * The benchmark's stand-in for the collector: accepts OTLP/HTTP exports and counts them without parsing,
 * so "telemetry on" pays for producing and sending telemetry, not for a collector's work. Own process, so
 * its CPU is not the load generator's.
 */
let exports = 0;
let bytes = 0;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  async fetch(req) {
    if (req.method === "GET") return Response.json({ exports, bytes });
    bytes += (await req.arrayBuffer()).byteLength;
    exports += 1;
    return Response.json({});
  },
});
console.log(`info otlp sink listening url=http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});

export {};
