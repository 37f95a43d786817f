import { describe, expect, test } from "bun:test";
import { firstStop, nextStepAfter, type StartFailure, takesOutOfRotation } from "../src/dispatch.ts";

const all: StartFailure[] = ["full", "draining", "out_of_service", "rejected", "unreachable", "uncertain"];

describe("where a request may go after a failed start", () => {
  test("elsewhere only when the substation surely did nothing", () => {
    expect(Object.fromEntries(all.map((f) => [f, nextStepAfter(f, false)]))).toEqual({
      full: "try_next",
      draining: "try_next",
      out_of_service: "try_next",
      rejected: "relay",
      unreachable: "try_next",
      // A timeout may have started the session: never a second one elsewhere.
      uncertain: "fail_uncertain",
    });
  });

  test("at the vehicle's home only 'full' proves there is no session to give back", () => {
    expect(Object.fromEntries(all.map((f) => [f, nextStepAfter(f, true)]))).toEqual({
      full: "try_next",
      draining: "relay",
      out_of_service: "relay",
      rejected: "relay",
      unreachable: "fail_home_unavailable",
      uncertain: "fail_home_unavailable",
    });
  });

  test("a request with a home asks there first, or nowhere", () => {
    expect(firstStop(undefined)).toBe("rank");
    expect(firstStop({ id: "substation-2", healthy: true })).toBe("home");
    expect(firstStop({ id: "substation-2", healthy: false })).toBe("home_unavailable");
  });

  test("only failures of the substation itself take it out of rotation", () => {
    expect(all.filter(takesOutOfRotation)).toEqual(["out_of_service", "unreachable", "uncertain"]);
  });
});
