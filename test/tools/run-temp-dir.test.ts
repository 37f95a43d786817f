/** runTempDir: a command's own temporary directory, and what a killed run (kill -9) of it left, removed next time. */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runTempDir, tempDir } from "@evgrid/testing";

test("a directory of a process that is gone is removed; a live process's, and other names, are left", async () => {
  using parent = tempDir("evgrid-run-dir-");
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  const left = join(parent.path, `evgrid-x-${gone.pid}-AbC123`);
  const live = join(parent.path, `evgrid-x-${process.pid}-dEf456`);
  const others = [
    "evgrid-x-stop-ghi789",
    "evgrid-xy-1-jkl012",
    `evgrid-y-${gone.pid}-mno345`,
    `evgrid-x-${gone.pid}-old`,
  ];
  for (const dir of [left, live, ...others.map((o) => join(parent.path, o))]) mkdirSync(dir);
  const made = runTempDir("evgrid-x-", parent.path);
  expect(made.startsWith(join(parent.path, `evgrid-x-${process.pid}-`))).toBe(true);
  expect(existsSync(left)).toBe(false);
  expect(readdirSync(parent.path).sort()).toEqual(
    [live, made, ...others].map((d) => d.slice(d.lastIndexOf("/") + 1)).sort(),
  );
});
