/** The client end's bookkeeping: what waits for an answer is exactly the calls that were sent. */
import { describe, expect, test } from "bun:test";
import { Link } from "../src/link-client.ts";
import { ourServer, TOKEN } from "./conformance-ends.ts";

describe("Link", () => {
  test("a call whose input cannot be sent fails at once and leaves nothing waiting; the link goes on", async () => {
    await using server = await ourServer();
    const link = new Link(`${server.url.replace(/^http/, "ws")}/trpc`, { token: TOKEN });
    try {
      expect(await link.call("query", "echo", { text: "hi" }, { timeoutMs: 10_000 })).toEqual({ said: "hi" });
      // A BigInt has no JSON: the call fails as it is made, and nothing waits for its answer (or times out).
      const failed = await link
        .call("query", "echo", { text: 1n }, { timeoutMs: 10_000 })
        .catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(TypeError);
      expect(link.inFlight).toBe(0);
      expect(await link.call("query", "echo", { text: "again" }, { timeoutMs: 10_000 })).toEqual({
        said: "again",
      });
      expect(link.inFlight).toBe(0);
    } finally {
      link.close();
    }
  });
});
