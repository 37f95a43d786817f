/**
 * Service tokens that were ever committed to this repository (the compose `.env`, the Kubernetes local
 * overlay, docs). Anyone who read the repo knows them, so an app refuses them like a short one. A test
 * (packages/kit/test/service-token.test.ts) greps the repo: a token-looking value committed to .env,
 * compose or deploy/ must be listed here.
 */
export const PUBLISHED_SERVICE_TOKENS: readonly string[] = ["change-me-local-demo-only-0000"];

/** The service token forges session secrets and unlocks every internal procedure: 32+ characters. */
export const MIN_SERVICE_TOKEN_CHARS = 32;

export const INSECURE_DEMO_WARNING =
  "EVGRID_INSECURE_DEMO=1: a short or published SERVICE_TOKEN is accepted; never run this way in production";

/** Why `token` must not guard a grid (too short, published), or null when it may. */
export function serviceTokenProblem(token: string): string | null {
  if (PUBLISHED_SERVICE_TOKENS.includes(token)) {
    return "SERVICE_TOKEN is published in the evgrid repository; make your own: openssl rand -base64 32";
  }
  if (token.length < MIN_SERVICE_TOKEN_CHARS) {
    return `SERVICE_TOKEN must be at least ${MIN_SERVICE_TOKEN_CHARS} characters: openssl rand -base64 32`;
  }
  return null;
}

/** Throws unless the token may guard a grid, or the operator said EVGRID_INSECURE_DEMO=1. */
export function assertServiceToken(token: string, insecureDemo: boolean): void {
  const problem = serviceTokenProblem(token);
  if (problem && !insecureDemo) throw new Error(`${problem} (or EVGRID_INSECURE_DEMO=1 for a demo)`);
}
