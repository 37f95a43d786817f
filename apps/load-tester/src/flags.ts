/**
 * A numeric command-line flag: a finite number >= `min` (an integer if asked), or the reason it is not,
 * phrased for the user (`--count must be an integer >= 1, got "lots"`).
 */
export function parseNumberFlag(
  name: string,
  raw: unknown,
  min: number,
  integer = false,
): { ok: true; value: number } | { ok: false; message: string } {
  const n = Number(raw);
  const valid =
    typeof raw === "string" &&
    raw.trim() !== "" &&
    Number.isFinite(n) &&
    n >= min &&
    (!integer || Number.isInteger(n));
  return valid
    ? { ok: true, value: n }
    : {
        ok: false,
        message: `--${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${JSON.stringify(raw)}`,
      };
}
