/**
 * Energy books by class, for water-filling without taper: every session of a class (same minimum, maximum
 * and weight) has the same power, so a class keeps one running integral of it (kWh per session), and a
 * session's energy is that integral since it joined, capped at what it wanted. A session is full when the
 * integral reaches its threshold (a heap per class). An event then costs O(classes + log sessions), not
 * O(sessions): the re-share is packages/policy's `reshareSite` on the classes, as the substation does.
 */
import { type Capacity, reshareSite } from "@evgrid/policy";
import { Heap } from "heap-js";
import type { Live } from "./site.ts";

interface Member {
  live: Live;
  /** The class integral at which it is full. */
  fullAtKwh: number;
}

interface Book {
  key: string;
  minKw: number;
  maxKw: number;
  weight: number;
  count: number;
  allocKw: number;
  /** Energy one session of this class has drawn since the class began, kWh. */
  integralKwh: number;
  members: Heap<Member>;
}

/** Energy left below this, kWh, is none: the session is full (sums of floats never reach 0 exactly). */
export const KWH_EPSILON = 1e-6;

/** Whether a heap entry still stands for a session charging in this book. */
const current = (m: Member, book: Book) => m.live.v.live === m.live && m.live.book === book;

export class ClassBooks {
  /** Insertion order: the order the classes are shared in (deterministic). */
  private readonly books = new Map<string, Book>();

  join(l: Live): void {
    const key = `${l.minKw}|${l.capKw}|${l.weight}`;
    let book = this.books.get(key);
    if (!book) {
      book = {
        key,
        minKw: l.minKw,
        maxKw: l.capKw,
        weight: l.weight,
        count: 0,
        allocKw: 0,
        integralKwh: 0,
        members: new Heap<Member>((a, b) => a.fullAtKwh - b.fullAtKwh),
      };
      this.books.set(key, book);
    }
    book.count += 1;
    l.book = book;
    l.joinedAtKwh = book.integralKwh;
    l.allocKw = book.allocKw;
    book.members.push({ live: l, fullAtKwh: book.integralKwh + l.leftKwh });
  }

  /** It leaves its class; returns the energy it drew since it joined (kWh). */
  leave(l: Live): number {
    const book = l.book as Book;
    const kwh = Math.min(l.leftKwh, book.integralKwh - (l.joinedAtKwh ?? 0));
    book.count -= 1;
    l.book = undefined;
    if (book.count === 0) this.books.delete(book.key);
    return kwh;
  }

  advance(dtMin: number): void {
    for (const b of this.books.values()) b.integralKwh += (b.allocKw * dtMin) / 60;
  }

  /** Shares the site's power among the classes; returns what the site draws. */
  share(site: Capacity): number {
    const list = [...this.books.values()];
    const shares = reshareSite(site, list);
    let drawnKw = 0;
    list.forEach((b, i) => {
      b.allocKw = shares.sharesKw[i] as number;
      drawnKw += b.count * b.allocKw;
    });
    return drawnKw;
  }

  /** When the next session will be full (minutes), at the shares in force. */
  nextFullMin(t: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const b of this.books.values()) {
      const top = this.top(b);
      if (top && b.allocKw > 0) next = Math.min(next, t + ((top.fullAtKwh - b.integralKwh) / b.allocKw) * 60);
    }
    return next;
  }

  /** The sessions full by now (taken out of the heaps; the caller stops them). */
  full(): Live[] {
    const out: Live[] = [];
    for (const b of this.books.values()) {
      for (let top = this.top(b); top && top.fullAtKwh <= b.integralKwh + KWH_EPSILON; top = this.top(b)) {
        b.members.pop();
        out.push(top.live);
      }
    }
    return out;
  }

  private top(b: Book): Member | undefined {
    let top = b.members.peek();
    while (top && !current(top, b)) {
      b.members.pop();
      top = b.members.peek();
    }
    return top;
  }
}
