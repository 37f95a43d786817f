import { Database } from "bun:sqlite";

/**
 * Something else on the disk: it takes room in a journal capped at `maxMb` (the same cap the substation
 * uses) and gives it back. SQLite keeps writing into free bytes inside its pages even at the cap, so besides
 * whole pages (`take`) it can take the last bytes of the settings table (`packSettings`), which an
 * operator's setLimit/setDraining would otherwise still fit into.
 */
export function diskHog(path: string, maxMb: number) {
  const db = new Database(path, { strict: true });
  db.exec("PRAGMA busy_timeout = 5000");
  const { page_size } = db.query("PRAGMA page_size").get() as { page_size: number };
  db.exec(`PRAGMA max_page_count = ${Math.floor((maxMb * 1024 * 1024) / page_size)}`);
  let n = 0;
  const put = (bytes: number) =>
    db.query("INSERT INTO settings (key, value) VALUES ($key, $value)").run({
      key: `hog-${++n}`,
      value: "x".repeat(bytes),
    });
  /** Inserts values of `bytes` until the journal refuses one; returns how many fitted. */
  const fillWith = (bytes: number, max = Number.POSITIVE_INFINITY) => {
    let fitted = 0;
    try {
      while (fitted < max) {
        put(bytes);
        fitted += 1;
      }
    } catch {}
    return fitted;
  };
  return {
    /** Takes up to `pages` whole pages, one value of nearly a page each. */
    take(pages: number) {
      return fillWith(page_size - 100, pages);
    },
    /** Takes every byte left in the settings table's pages, down to entries smaller than any real setting. */
    packSettings() {
      for (const bytes of [2000, 500, 100, 20, 1, 0]) fillWith(bytes);
    },
    /** Deletes everything it took: the room is free again. */
    free() {
      db.exec("DELETE FROM settings WHERE key LIKE 'hog-%'");
    },
    close: () => db.close(),
  };
}
