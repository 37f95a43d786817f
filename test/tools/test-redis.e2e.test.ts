/** The test harness's redis-server (`startRedis`), as chaos runs and the replica tests use it. */
import { describe, expect, test } from "bun:test";
import { startRedis } from "@evgrid/testing";
import { RedisClient } from "bun";

describe("startRedis", () => {
  test("a restart that fails (its port taken meanwhile) says so, and the next start() really starts it", async () => {
    await using redis = await startRedis();
    await redis.stop();
    // Someone else's listener on its port: it answers connections, but it is no redis-server.
    const squatter = Bun.listen({ hostname: "127.0.0.1", port: redis.port, socket: { data() {} } });
    let failed: string;
    try {
      failed = await redis.start().then(
        () => "started",
        (err: Error) => err.message,
      );
    } finally {
      squatter.stop(true);
    }
    expect(failed).toContain(`redis-server did not start on ${redis.port} (it exited with code 1)`);
    expect(failed).toContain("Address already in use");
    // Not taken for running: this start starts it, and it answers.
    await redis.start();
    const client = new RedisClient(redis.url);
    try {
      expect(await client.send("PING", [])).toBe("PONG");
    } finally {
      client.close();
    }
  });

  test("stopped for good while a start() is under way: that redis-server goes too, not up after the end", async () => {
    const redis = await startRedis();
    await redis.stop();
    // What a chaos run interrupted midway does: its grid goes while a restart_store fault is starting it.
    const starting = redis.start().then(
      () => "started",
      (err: Error) => err.message,
    );
    await redis[Symbol.asyncDispose]();
    expect(await starting).toContain("stopped while it started");
    const answers = await Bun.connect({
      hostname: "127.0.0.1",
      port: redis.port,
      socket: { data() {} },
    }).then(
      (socket) => {
        socket.end();
        return true;
      },
      () => false,
    );
    expect(answers).toBe(false);
  });
});
