/** A lone balancer's memory of homes is bounded by MEMORY_HOMES (the README says what that bound gives up). */
import { expect, test } from "bun:test";
import { MemoryStore } from "@evgrid/balancer/memory";
import { startGrid } from "@evgrid/testing";

test("MEMORY_HOMES bounds the homes a lone balancer keeps: each admission (its key and its vehicle) pushes out older ones", async () => {
  await using grid = await startGrid({ capacitiesKw: [150], balancer: { MEMORY_HOMES: "3" } });
  for (const vehicleId of ["ev-1", "ev-2", "ev-3"])
    await grid.client.requestCharge.mutate({ vehicleId, durationS: 600 });
  const store = grid.balancer.dispatcher.store;
  expect(store).toBeInstanceOf(MemoryStore);
  expect((store as MemoryStore).size).toBe(3);
});
