/**
 * The line every app logs once it serves: `info <service> listening url=<url> ...`. `bun run dev` and the
 * test harness learn each app's real URL (port 0) from it, so its shape is a contract: written by
 * `listeningLine`, read by `listeningUrl`, nowhere else.
 */
export const listeningLine = (service: string) => `${service} listening`;

/** The URL a `listeningLine` announces, or undefined for any other line. */
export function listeningUrl(line: string): string | undefined {
  return /\blistening .*\burl=(\S+)/.exec(line)?.[1];
}
