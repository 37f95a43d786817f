import { expect, test } from "bun:test";
import { createLogger } from "../src/log.ts";

/** What a logger prints, line by line, with console.warn / console.log captured. */
function captured(write: (log: ReturnType<typeof createLogger>) => void): string {
  const out: string[] = [];
  const saved = { log: console.log, warn: console.warn, error: console.error };
  console.log = console.warn = console.error = (line: string) => out.push(line);
  try {
    write(createLogger());
  } finally {
    Object.assign(console, saved);
  }
  return out.join("\n");
}

test("control characters in any field are escaped: one event is one line, no terminal escapes", () => {
  const hostile =
    "cp-1\nwarn charge point accepted chargePointId=cp-admin\r\u0000\u001b[31mred\u0085\u2028x\u007f";
  const text = captured((log) => {
    log.warn("charge point refused", { chargePointId: hostile, nested: { id: hostile }, n: 3 });
    log.info(`message ${hostile}`);
    log.error("err", { [`key${hostile}`]: 1 });
  });
  const lines = text.split("\n");
  expect(lines).toHaveLength(3);
  expect(lines[0]).toStartWith("warn charge point refused chargePointId=cp-1\\nwarn charge point accepted");
  expect(lines[0]).toContain("\\r\\u0000\\u001b[31mred\\u0085\\u2028x\\u007f");
  expect(lines[0]).toEndWith(" n=3");
  for (const line of lines) expect(line).not.toMatch(/[\p{Cc}\u2028\u2029]/u);
});

test("plain fields print as before", () => {
  expect(
    captured((log) => log.warn("power events interrupted", { substationId: "substation-1", ok: true })),
  ).toBe("warn power events interrupted substationId=substation-1 ok=true");
});
