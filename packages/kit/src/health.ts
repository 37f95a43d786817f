/**
 * What an app answers to its probes. `/livez`: the process serves requests at all (a restart would help if
 * not). `/readyz`: it can do its job now (a dependency is there), else 503 with the reason, so Kubernetes
 * sends it no traffic and an operator sees why. `/healthz` stays as it was, for callers that use it.
 */

/** Why the app cannot serve now, or null when it can. */
export type ReadinessCheck = () => string | null | Promise<string | null>;

export interface HealthRoutes {
  service: string;
  version: string;
  startedAt: number;
  ready?: ReadinessCheck | undefined;
  /** More facts for /healthz (the open-files limit, an insecure-demo warning). */
  details?: Record<string, unknown> | undefined;
}

export async function healthResponse(pathname: string, h: HealthRoutes): Promise<Response | null> {
  const about = {
    service: h.service,
    version: h.version,
    uptimeS: Math.round((Date.now() - h.startedAt) / 100) / 10,
  };
  if (pathname === "/healthz" || pathname === "/livez")
    return Response.json({ ok: true, ...about, ...h.details });
  if (pathname !== "/readyz") return null;
  let reason: string | null;
  try {
    reason = (await h.ready?.()) ?? null;
  } catch (err) {
    reason = `readiness check failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  return reason === null
    ? Response.json({ ready: true, ...about })
    : Response.json({ ready: false, reason, ...about }, { status: 503 });
}
