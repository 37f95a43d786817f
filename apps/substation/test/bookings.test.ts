import { describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { idTagFor } from "@evgrid/kit";
import { BookingIndex } from "../src/bookings.ts";

const TOKEN = "bookings-test-service-token-0123456789ab";

/** An index over sessions the test starts and ends; counts the tags it derives. */
function index() {
  const active = new Set<string>();
  const derived: string[] = [];
  const bookings = new BookingIndex(
    (sessionId) => {
      derived.push(sessionId);
      return idTagFor(TOKEN, sessionId);
    },
    (sessionId) => ({ sessionId, status: active.has(sessionId) ? "active" : "ended" }) as Session,
  );
  const start = (id: string) => {
    active.add(id);
    bookings.add(id);
  };
  const end = (id: string) => {
    active.delete(id);
    bookings.remove(id);
  };
  return { bookings, derived, active, start, end };
}

describe("BookingIndex", () => {
  test("a charger's idTag finds its active session; tags are derived when a charger asks, not at admission", () => {
    const { bookings, derived, start, end } = index();
    for (const id of ["s-1", "s-2", "s-3"]) start(id);
    end("s-1");
    expect(derived).toEqual([]);
    expect(bookings.size).toBe(2);

    expect(bookings.find(idTagFor(TOKEN, "s-2"))?.sessionId).toBe("s-2");
    // The sessions active when it asked, once each; the one that ended before never.
    expect(derived.sort()).toEqual(["s-2", "s-3"]);
    expect(bookings.find(idTagFor(TOKEN, "s-3"))?.sessionId).toBe("s-3");
    expect(bookings.find(idTagFor(TOKEN, "s-1"))).toBeNull();
    expect(derived).toHaveLength(2);

    // Ended after its tag was derived: its tag claims nothing any more.
    end("s-2");
    expect(bookings.find(idTagFor(TOKEN, "s-2"))).toBeNull();
    start("s-4");
    expect(bookings.find(idTagFor(TOKEN, "s-4"))?.sessionId).toBe("s-4");
    expect(bookings.size).toBe(2);
  });

  test("sessions resumed at a restart are tagged at once: the first charger does not pay for them", () => {
    const { bookings, derived, active } = index();
    active.add("resumed-1");
    bookings.add("resumed-1", true);
    expect(derived).toEqual(["resumed-1"]);
    expect(bookings.find(idTagFor(TOKEN, "resumed-1"))?.sessionId).toBe("resumed-1");
    expect(derived).toEqual(["resumed-1"]);
  });
});
