/**
 * Where `bun run simulate` writes: `--out` is made and checked before the sessions are read (a day of a
 * million rows is not replayed to find the report cannot be written), a file of the run that would be one
 * of its inputs is refused, and every failed write, stdout's included, is an `OutputError` naming the path
 * and the system's reason (exit 2), not a stack trace.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The files a run writes to `--out`. */
export const OUTPUT_FILES = [
  "sessions.csv",
  "report.json",
  "report.html",
  "substation-power.svg",
  "timing.json",
] as const;

/** A run's output that cannot be written, in one line (the command's exit 2). */
export class OutputError extends Error {}

export const cannotWrite = (path: string, reason: string) =>
  new OutputError(`cannot write to ${path}: ${reason}`);

/** "not a directory" out of "ENOTDIR: not a directory, mkdir '/x'": the system's words, without the call. */
export function osReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /^[A-Z0-9]+: ([^,]+)/.exec(message)?.[1] ?? message;
}

/** Runs a write, its failure an `OutputError` naming `path`. */
export function writing<T>(path: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (err instanceof OutputError) throw err;
    throw cannotWrite(path, osReason(err));
  }
}

const identity = (path: string) => {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
};

export const writeOutput = (path: string, text: string) => writing(path, () => writeFileSync(path, text));

/**
 * Makes `--out` (and its parents) and checks that the run can write there: the directory takes a file, and
 * none of the run's files is a directory. Throws `OutputError`; gives the absolute path.
 */
export function prepareOutDir(outFlag: string): string {
  const out = resolve(outFlag);
  try {
    mkdirSync(out, { recursive: true });
  } catch (err) {
    // A file there: bun's "file already exists" would be a riddle (node's mkdir says nothing at all).
    if (existsSync(out) && !statSync(out).isDirectory()) throw cannotWrite(out, "not a directory");
    throw cannotWrite(out, osReason(err));
  }
  if (!statSync(out).isDirectory()) throw cannotWrite(out, "not a directory");
  const probe = join(out, `.simulate-${process.pid}.probe`);
  writing(out, () => writeFileSync(probe, ""));
  rmSync(probe, { force: true });
  for (const name of OUTPUT_FILES) {
    const path = join(out, name);
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      // Not there yet: the run makes it.
    }
    if (isDirectory) throw cannotWrite(path, "is a directory");
  }
  return out;
}

/**
 * Refuses a run one of whose files would be one of its inputs (the same file, through a link too: compared
 * as the files they are, device and inode), before it writes anything.
 */
export function refuseOverwritingInputs(out: string, inputs: { path: string; what: string }[]): void {
  for (const name of OUTPUT_FILES) {
    const path = join(out, name);
    const id = identity(path);
    if (id === undefined) continue;
    for (const input of inputs) {
      if (identity(input.path) === id)
        throw new OutputError(
          `--out ${out}: ${path} is ${resolve(input.path)}, ${input.what}; the run would overwrite it ` +
            "(choose another --out)",
        );
    }
  }
}

/** Writes to stdout, a failure (a full disk, a closed pipe) an `OutputError` once the text could not go. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((done, fail) =>
    process.stdout.write(text, (err) => (err ? fail(cannotWrite("stdout", osReason(err))) : done())),
  );
}
