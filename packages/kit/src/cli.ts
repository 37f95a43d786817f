import { type ParseArgsConfig, parseArgs } from "node:util";
import { z } from "zod";

export interface CommandLine<S extends z.ZodType> {
  /** What the command is called in messages: `client: --count must be ...`. */
  command: string;
  /** Printed by --help (and after a mistake). */
  help: string;
  /** The flags, as node:util parseArgs takes them; `help` (-h) is added. */
  flags: NonNullable<ParseArgsConfig["options"]>;
  /**
   * Validates the flags' values (keys as the flags are spelled, `--max-kw` as `max-kw`) and gives them their
   * types and defaults. An issue at path `x` is reported as `--x`.
   */
  schema: S;
  /** Values to use for flags not given (environment variables, say); an empty one counts as not set. */
  fallbacks?: Record<string, unknown>;
  argv?: string[];
}

/**
 * The one way every command of this project reads its command line: --help prints the help and exits 0;
 * an unknown flag or a wrong value prints what is wrong, naming the flag, then the help, and exits 2.
 */
export function parseCommandLine<S extends z.ZodType>(spec: CommandLine<S>): z.output<S> {
  const fail = (message: string): never => {
    console.error(`${spec.command}: ${message}\n\n${spec.help}`);
    process.exit(2);
  };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: spec.argv ?? Bun.argv.slice(2),
      options: { ...spec.flags, help: { type: "boolean", short: "h" } },
      strict: true,
    }).values;
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values.help) {
    console.log(spec.help);
    process.exit(0);
  }
  const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  // `DEV_SUBSTATIONS= bun run dev` sets nothing: an empty variable is not a value to refuse.
  const fallbacks = Object.fromEntries(Object.entries(spec.fallbacks ?? {}).filter(([, v]) => v !== ""));
  const parsed = spec.schema.safeParse({ ...fallbacks, ...given });
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => {
    if (i.path.length === 0) return i.message;
    const name = String(i.path[0]);
    const value = given[name] ?? fallbacks[name];
    return `--${name}: ${i.message}${typeof value === "string" ? ` (got ${JSON.stringify(value)})` : ""}`;
  });
  return fail(lines.join("\n"));
}

/** A numeric flag: a finite number, at least `min` (an integer if asked), said in the user's words. */
export function numberFlag(min: number, opts: { integer?: boolean } = {}) {
  const what = opts.integer ? "an integer" : "a number";
  return z.coerce
    .number({ error: `must be ${what} >= ${min}` })
    .refine((n) => Number.isFinite(n) && n >= min && (!opts.integer || Number.isInteger(n)), {
      message: `must be ${what} >= ${min}`,
    });
}
