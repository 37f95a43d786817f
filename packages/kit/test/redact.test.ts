import { describe, expect, test } from "bun:test";
import { redactUrl } from "../src/redact.ts";

describe("redactUrl", () => {
  test("the password goes, the rest of the URL stays", () => {
    expect(redactUrl("redis://:s3cret@127.0.0.1:6379")).toBe("redis://:***@127.0.0.1:6379");
    expect(redactUrl("rediss://evgrid:p%40ss@valkey:6380/2")).toBe("rediss://evgrid:***@valkey:6380/2");
    expect(redactUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactUrl("redis://evgrid@valkey:6379")).toBe("redis://evgrid@valkey:6379");
  });

  test("a string that is not a URL has its userinfo masked whole", () => {
    const out = redactUrl("not a url //user:s3cret@host");
    expect(out).not.toContain("s3cret");
    expect(out).toBe("not a url //***@host");
  });
});
