import { TRPCClientError } from "@trpc/client";
import type { Answer, LinkCallOptions, LinkOptions, Pending, Subscription } from "./client-types.ts";
import { DEFAULT_MAX_FRAME_BYTES, frames } from "./frames.ts";
import { aborted, dropped, lateCall, notHosted, refused, tooLarge } from "./link-failures.ts";
import { PendingCall } from "./pending-call.ts";
import { BUDGET_BYTES, leaving, QueuedCall, queuedCall } from "./queued-call.ts";
import { backoffDelayMs } from "./retry.ts";

const FIRST_BACKOFF_MS = 50;

/**
 * The client end of an internal link: one WebSocket to a peer app, speaking tRPC's WebSocket protocol, with
 * any number of calls in flight on it (each by its own id). Opened on first use with the service token in
 * the upgrade; reopened on demand after it drops, with a back-off between failed attempts.
 * How a call fails says what the peer may have done: link-failures.ts.
 */
export class Link {
  private ws: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly subscriptions = new Map<number, Subscription>();
  private nextId = 1;
  private failures = 0;
  private retryAtMs = 0;
  private closed = false;
  private closing = false;
  private reopening: ReturnType<typeof setTimeout> | undefined;
  /** Messages (serialized) waiting for the end of this turn of the event loop, to go out in few frames. */
  private outbox: (string | QueuedCall)[] = [];
  private flushing = false;
  private readonly maxFrameBytes: number;

  constructor(
    /** ws:// or wss:// URL of the peer's /trpc. */
    readonly url: string,
    private readonly opts: LinkOptions = {},
  ) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Calls currently waiting for an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** A query or mutation: resolves with its data, or fails with a TRPCClientError. */
  async call(
    type: "query" | "mutation",
    path: string,
    input: unknown,
    opts: LinkCallOptions,
  ): Promise<unknown> {
    if (opts.signal?.aborted) throw aborted();
    if (this.closing) throw refused("link closed");
    const deadline = Date.now() + opts.timeoutMs;
    // An open link (nearly always) is used as it is: no promise made to find it open.
    if (this.ws?.readyState !== WebSocket.OPEN) await this.openWithin(deadline);
    if (Date.now() >= deadline) throw lateCall(path);
    const id = this.nextId++;
    // What is left of the deadline once the link is open: the peer's own deadline for this call.
    // Serialized before anything waits for an answer: an input that cannot be sent fails alone, at once.
    // Its budget is written as it leaves, at the end of the turn (queued-call.ts).
    const call = queuedCall(id, type, path, input, deadline, opts);
    // A message the peer would refuse by closing the link (failing every call on it) fails alone, unsent,
    // answered here as the peer answers an oversized HTTP body: typed, certainly not run.
    const bytes = Buffer.byteLength(call.rest) + BUDGET_BYTES;
    if (bytes > this.maxFrameBytes) {
      throw tooLarge(`a call of ${bytes} bytes is over the link's ${this.maxFrameBytes}`, path);
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const waiting = new PendingCall(this.pending, id, resolve, reject, opts.signal);
    waiting.queued = call;
    waiting.wait(deadline - Date.now(), this.stopCall);
    this.post(call);
    return promise;
  }

  /** Tells the peer a call's caller gave up (one function per link, not one per call). */
  private readonly stopCall = (id: number) => {
    if (this.ws?.readyState === WebSocket.OPEN) this.post({ id, method: "subscription.stop" });
  };

  /**
   * A subscription: `onData` for every value. It outlives the link: when the link drops, or cannot be
   * opened, it is opened again with a back-off and the subscription sent again (the peer then starts it
   * afresh). `onError` when the peer refuses or fails it, `onComplete` when the peer ends it; either way it
   * is over. Returns the way to stop it.
   */
  subscribe(
    path: string,
    input: unknown,
    onData: (data: unknown) => void,
    onError: (err: Error) => void,
    onComplete: () => void = () => {},
  ): () => void {
    const id = this.nextId++;
    this.subscriptions.set(id, { path, input, onData, onError, onComplete });
    // On an open link, at once; otherwise opening it sends every subscription (once).
    if (this.ws?.readyState === WebSocket.OPEN) this.sendSubscribe(this.ws, id);
    else this.open().catch(() => this.reopenForSubscriptions());
    return () => {
      this.subscriptions.delete(id);
      if (this.ws?.readyState === WebSocket.OPEN) this.post({ id, method: "subscription.stop" });
    };
  }

  /** While subscriptions wait for a link, one attempt to reopen it after the back-off. */
  private reopenForSubscriptions(): void {
    if (this.closed || this.subscriptions.size === 0 || this.reopening) return;
    this.reopening = setTimeout(
      () => {
        this.reopening = undefined;
        // On success, open() sends every subscription again; on failure, try again later.
        this.open().catch(() => this.reopenForSubscriptions());
      },
      Math.max(FIRST_BACKOFF_MS, this.retryAtMs - Date.now()),
    );
  }

  /**
   * Closes it once no call waits on it (at the latest when the last one's deadline passes): a link that
   * carries other clients' calls (a route) lets them finish instead of failing them as dropped. New calls
   * fail at once, unsent, as on a closed link.
   */
  closeWhenIdle(): void {
    this.closing = true;
    if (this.pending.size === 0) {
      this.close();
      return;
    }
    const check = setInterval(() => {
      if (this.pending.size > 0) return;
      clearInterval(check);
      this.close();
    }, 50);
  }

  /** Closes the link; calls in flight fail as if it dropped. */
  close(): void {
    clearTimeout(this.reopening);
    this.closed = true;
    this.ws?.close(1000, "closing");
    this.failAll(dropped("link closed"));
  }

  private sendSubscribe(ws: WebSocket, id: number): void {
    const sub = this.subscriptions.get(id);
    if (sub && ws.readyState === WebSocket.OPEN) {
      this.post({ id, method: "subscription", params: { path: sub.path, input: sub.input } });
    }
  }

  /**
   * Queues a message for the open link. Everything queued in one turn of the event loop leaves as one frame,
   * a JSON array when there are several (as tRPC's own wsLink batches): one send and one wake-up of the peer
   * for many calls, which is most of what a call costs under load.
   */
  private post(message: object | string): void {
    this.outbox.push(
      message instanceof QueuedCall || typeof message === "string" ? message : JSON.stringify(message),
    );
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const messages = this.outbox;
    this.outbox = [];
    if (messages.length === 0) return;
    const ws = this.ws;
    // Dropped between the call and the end of the turn: the close handler fails the calls.
    if (ws?.readyState !== WebSocket.OPEN) return;
    const texts = leaving(messages, Date.now(), (late) =>
      this.pending.get(late.id)?.reject(lateCall(late.path)),
    );
    for (const frame of frames(texts, this.maxFrameBytes)) ws.send(frame);
  }

  /**
   * The open link, for a call that must be sent by `deadline`. Opening may outlast one call (others wait on
   * the same attempt), but not its deadline: nothing was sent, so the peer certainly did nothing.
   */
  private async openWithin(deadline: number): Promise<WebSocket> {
    if (this.ws?.readyState === WebSocket.OPEN) return this.ws;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(refused("timed out opening the link")),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      return await Promise.race([this.open(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The open link, opening it if need be; fails fast while a peer that keeps refusing is backed off. */
  private open(): Promise<WebSocket> {
    if (this.ws?.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    if (this.closed) return Promise.reject(refused("link closed"));
    if (this.opening) return this.opening;
    if (Date.now() < this.retryAtMs) return Promise.reject(refused("peer unreachable (backing off)"));
    const opening = new Promise<WebSocket>((resolve, reject) => {
      const headers = this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : undefined;
      // Bun's WebSocket takes headers for the upgrade request.
      // ?batch=1: our server may answer several calls in one frame (a JSON array), which we read.
      const url = new URL(this.url);
      url.searchParams.set("batch", "1");
      const ws = new WebSocket(url.href, { headers } as unknown as string[]);
      const giveUp = setTimeout(() => ws.close(), this.opts.connectTimeoutMs ?? 2000);
      ws.addEventListener("open", () => {
        clearTimeout(giveUp);
        this.ws = ws;
        this.opening = null;
        this.failures = 0;
        for (const id of this.subscriptions.keys()) this.sendSubscribe(ws, id);
        resolve(ws);
      });
      ws.addEventListener("message", (event) => this.receive(event.data));
      ws.addEventListener("close", (event) => {
        clearTimeout(giveUp);
        const wasOpen = this.ws === ws;
        if (wasOpen) this.ws = null;
        if (this.opening === opening) this.opening = null;
        if (!wasOpen) {
          // Never opened: the peer is down or refused us. Back off before the next attempt.
          this.failures += 1;
          this.retryAtMs =
            Date.now() +
            backoffDelayMs(this.failures - 1, {
              delayMs: FIRST_BACKOFF_MS,
              maxDelayMs: this.opts.maxBackoffMs ?? 5000,
            });
          reject(refused(event.code === 1002 || event.code === 1006 ? "peer unreachable" : event.reason));
          return;
        }
        // Dropped: every call out on it may or may not have run there.
        this.failAll(dropped("link dropped"));
        this.reopenForSubscriptions();
      });
    });
    this.opening = opening;
    return opening;
  }

  private receive(raw: unknown): void {
    const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw as ArrayBuffer);
    if (text === "PING") return void this.ws?.send("PONG");
    if (text === "PONG") return;
    let parsed: Answer | Answer[];
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    // Our server answers several calls in one frame (we asked for it with ?batch=1 when opening).
    if (Array.isArray(parsed)) for (const msg of parsed) this.answer(msg);
    else this.answer(parsed);
  }

  private answer(msg: Answer): void {
    if (typeof msg?.id !== "number") return;
    const sub = this.subscriptions.get(msg.id);
    if (sub) {
      if (msg.error !== undefined) {
        this.subscriptions.delete(msg.id);
        sub.onError(TRPCClientError.from({ error: msg.error } as never));
      } else if (msg.result?.type === "stopped") {
        this.subscriptions.delete(msg.id);
        sub.onComplete();
      } else if (msg.result?.type === "data" || msg.result?.type === undefined) {
        sub.onData(msg.result?.data);
      }
      return;
    }
    const call = this.pending.get(msg.id);
    if (!call) return; // answered after its deadline: nobody waits for it any more
    if (msg.siteMissing === true) call.reject(notHosted(msg.error));
    else if (msg.error !== undefined) call.reject(TRPCClientError.from({ error: msg.error } as never));
    else call.resolve(msg.result?.data);
  }

  private failAll(err: Error): void {
    for (const call of [...this.pending.values()]) call.reject(err);
  }
}
