/** The answers a link upgrade gets when it is refused (the wire's messages themselves: link-wire.ts). */

export function tooMany(max: number): Response {
  const message = `at most ${max} links from one address may wait to show the service token`;
  return Response.json({ error: { message, data: { reason: "TOO_MANY_REQUESTS" } } }, { status: 429 });
}

export function unauthorized(): Response {
  return Response.json(
    {
      error: {
        message: "internal link: send Authorization: Bearer <service token>",
        data: { reason: "UNAUTHORIZED" },
      },
    },
    { status: 401 },
  );
}
