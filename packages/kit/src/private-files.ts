import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Data files hold what no other local user should read: argon2 hashes of charger passwords, vehicle ids,
 * caller addresses, bills. So directories the apps create are 0700 and their files 0600, whatever the umask.
 * A directory that already exists is left as the operator made it (it may be /tmp or a shared volume).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) as 0700. `durable`: each directory it makes has its name synced to disk
 * in its parent, so a power loss cannot take back a directory whose files were synced.
 */
export function ensurePrivateDir(dir: string, { durable = false } = {}): void {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (!durable || first === undefined) return;
  for (let made = dir; ; made = dirname(made)) {
    syncDir(dirname(made));
    if (made === first) break;
  }
}

/** Syncs a directory's entries (a file or directory made in it) to disk. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes an SQLite database file 0600 before bun:sqlite opens it: SQLite gives its -wal and -shm files the
 * database file's own mode, so they follow. Files an older version left 0644 are tightened too.
 */
export function preparePrivateDatabase(path: string): void {
  if (path === ":memory:") return;
  ensurePrivateDir(dirname(path));
  closeSync(openSync(path, "a", PRIVATE_FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    if (existsSync(file)) chmodSync(file, PRIVATE_FILE_MODE);
  }
}

/**
 * Writes all of `text` at the file's position: a write may take only part (a disk filling up, a file size
 * limit), the rest goes in the next, and one that writes nothing is an error. Throws what the system said.
 */
export function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) {
    const wrote = writeSync(fd, bytes, done);
    if (wrote === 0) throw new Error("ENOSPC: nothing could be written");
    done += wrote;
  }
}
