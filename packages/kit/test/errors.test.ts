/** An input error from the next hop keeps its fields on its way back to the public caller. */
import { expect, test } from "bun:test";
import { TRPCClientError } from "@trpc/client";
import { relayUpstreamError } from "../src/errors.ts";
import { formatError } from "../src/trpc.ts";

test("a relayed INVALID_INPUT still says which field, as the hop that refused it did", () => {
  const fromBalancer = TRPCClientError.from({
    error: {
      message: "invalid input: departAt: departAt is in the past",
      code: -32600,
      data: {
        code: "BAD_REQUEST",
        httpStatus: 400,
        reason: "INVALID_INPUT",
        fieldErrors: { departAt: ["departAt is in the past"] },
      },
    },
  } as never);
  const relayed = relayUpstreamError(fromBalancer, "balancer");
  const shape = { message: relayed.message, code: -32600, data: { code: relayed.code, httpStatus: 400 } };
  expect(formatError({ shape, error: relayed }).data).toMatchObject({
    reason: "INVALID_INPUT",
    fieldErrors: { departAt: ["departAt is in the past"] },
  });
});
