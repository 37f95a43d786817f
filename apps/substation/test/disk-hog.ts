import { Database } from "bun:sqlite";

/**
 * Something else on the disk: it takes room in a journal capped at `maxMb` (the same cap the substation
 * uses) and gives it back. SQLite keeps writing into free bytes inside its pages even at the cap, and frees
 * pages as rows move, so "full" is done in steps: whole pages (`take`), the last bytes of the settings table
 * (`packSettings`), and `squeeze`, which packs every page tight so that any write that adds a byte fails.
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
    /** Takes up to `pages` whole pages (values larger than a page go to overflow pages). */
    take(pages: number) {
      return fillWith(page_size - 100, pages);
    },
    /** Takes every byte left in the settings table's pages, down to entries smaller than any real setting. */
    packSettings() {
      for (const bytes of [2000, 500, 100, 20, 1, 0]) fillWith(bytes);
    },
    /** Rewrites the journal with full pages (VACUUM), then takes every page and byte that freed. */
    squeeze() {
      db.exec("VACUUM");
      this.packSettings();
    },
    pageCount: () => (db.query("PRAGMA page_count").get() as { page_count: number }).page_count,
    /** Deletes everything it took: the room is free again. */
    free() {
      db.exec("DELETE FROM settings WHERE key LIKE 'hog-%'");
    },
    close: () => db.close(),
  };
}
