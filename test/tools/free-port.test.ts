/** Test servers on a port found free: a port taken before they bind it is another try, not a failed run. */
import { expect, test } from "bun:test";
import { startOnFreePort } from "@evgrid/testing";

test("a start that failed because its port was taken in between is tried again on another port", async () => {
  const ports: number[] = [];
  const url = await startOnFreePort(async (port) => {
    ports.push(port);
    if (ports.length < 3) throw new Error(`listen tcp 127.0.0.1:${port}: bind: address already in use`);
    return `http://127.0.0.1:${port}`;
  });
  expect(ports).toHaveLength(3);
  expect(url).toBe(`http://127.0.0.1:${ports[2]}`);
});

test("any other failure, or the port taken five times, is the test's failure", async () => {
  let tries = 0;
  await expect(
    startOnFreePort(async () => {
      tries++;
      throw new Error("no such binary");
    }),
  ).rejects.toThrow("no such binary");
  expect(tries).toBe(1);
  tries = 0;
  await expect(
    startOnFreePort(async () => {
      tries++;
      throw new Error("Address already in use");
    }),
  ).rejects.toThrow("Address already in use");
  expect(tries).toBe(5);
});
