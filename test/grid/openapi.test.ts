/** The public API's OpenAPI document: current, served, valid, and saying what the server really does. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { describedChargeApi, openApiText } from "@evgrid/charge-api/openapi";
import { reasons } from "@evgrid/contract";
import { repoRoot, startGrid } from "@evgrid/testing";

setDefaultTimeout(60_000);

const committedPath = `${repoRoot}/docs/openapi.json`;
// biome-ignore lint/suspicious/noExplicitAny: walking an OpenAPI document.
type Doc = any;

describe("the OpenAPI document", () => {
  test("docs/openapi.json is what the code generates (run `bun run openapi` after changing the API)", async () => {
    const committed = await Bun.file(committedPath).text();
    expect(committed).toBe(openApiText(describedChargeApi()));
  });

  test("a running charge-api serves the same document at GET /openapi.json", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    const res = await fetch(`${grid.api.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(await res.text()).toBe(await Bun.file(committedPath).text());
    const post = await fetch(`${grid.api.url}/openapi.json`, { method: "POST" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
  });

  test("names every procedure as it is called today, every reason, and how callers authenticate", async () => {
    const doc: Doc = describedChargeApi();
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods as Doc).map(
        ([method, op]) => `${method.toUpperCase()} ${path} ${(op as Doc).operationId}`,
      ),
    );
    expect(ops.sort()).toEqual([
      "GET /trpc/getSession getSession",
      "GET /trpc/gridStatus gridStatus",
      "GET /trpc/watchSession watchSession",
      "POST /request_charge legacyRequestCharge",
      "POST /trpc/requestCharge requestCharge",
      "POST /trpc/stopCharge stopCharge",
    ]);
    expect(doc.openapi).toBe("3.1.0");
    const query = doc.paths["/trpc/getSession"].get.parameters[0];
    expect([query.name, query.in, Object.keys(query.content)]).toEqual([
      "input",
      "query",
      ["application/json"],
    ]);
    expect(Object.keys(doc.paths["/trpc/watchSession"].get.responses["200"].content)).toEqual([
      "text/event-stream",
    ]);
    const errorData = doc.components.schemas.Error.properties.error.properties.data;
    expect(errorData.properties.reason.enum.sort()).toEqual(Object.values(reasons).sort());
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKey", "bearer"]);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ in: "header", name: "X-API-Key" });
    // The session secret travels in the input; the document says where.
    expect(doc.components.schemas.GetSessionInput.properties.sessionSecret).toBeDefined();
    expect(doc.components.schemas.RequestChargeOutput.required).toContain("sessionSecret");
  });

  test("is valid OpenAPI 3.1: redocly lint finds no error and no warning", async () => {
    const proc = Bun.spawn(
      // The project states no license; every other rule of redocly's recommended set applies.
      [
        process.execPath,
        "x",
        "redocly",
        "lint",
        committedPath,
        "--format",
        "json",
        "--skip-rule",
        "info-license",
      ],
      {
        cwd: repoRoot,
        stdout: "pipe",
        stderr: "pipe",
        // Offline and quiet: no usage report, no update check.
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
      },
    );
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const report = JSON.parse(out) as { totals: Record<string, number>; problems: unknown[] };
    expect({ totals: report.totals, problems: report.problems }).toEqual({
      totals: { errors: 0, warnings: 0, ignored: 0 },
      problems: [],
    });
    expect([code, err.includes("Error")]).toEqual([0, false]);
  });
});
