import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CdrExport } from "../src/cdr.ts";
import { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";
import { nextTurn, open, req, tempDir } from "./fixtures.ts";

describe("the CDR export thread", () => {
  test("a thread that dies fails its batch instead of holding every later round, and the next batch starts another", async () => {
    const dir = tempDir("evgrid-cdr-thread-");
    const journal = new Journal(join(dir, "substation.sqlite"));
    const station = new Station({ id: "sub-a", capacityKw: 10_000, journal });
    const cdr = new CdrExport(join(dir, "cdr"), "sub-a", journal);
    open.push(cdr, station, journal);
    for (const vehicleId of ["ev-1", "ev-2"])
      station.stop((await station.start(req({ vehicleId, durationS: 60 }))).session.sessionId);
    await nextTurn();

    // A real thread that dies of an uncaught error on its first message, as the export thread would.
    const dying = join(dir, "dying-worker.ts");
    writeFileSync(dying, 'self.onmessage = () => { throw new Error("the thread died"); };\n');
    const RealWorker = globalThis.Worker;
    globalThis.Worker = class extends RealWorker {
      constructor() {
        super(dying);
      }
    } as typeof Worker;
    try {
      await expect(cdr.exportBatch(10)).rejects.toThrow("the export thread stopped");
    } finally {
      globalThis.Worker = RealWorker;
    }
    expect(await cdr.exportBatch(10)).toBe(2);
  });
});
