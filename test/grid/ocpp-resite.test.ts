/**
 * A charge point registered again at another substation while a transaction of its is open: that transaction
 * stays at its old substation, whose levels must still reach it. Found by a hostile-charger probe: moved and
 * reconnected, it kept its 8 kW after its old site went down to 10 kW for two.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { eventually, SimulatedChargePoint, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

test("a charger moved to another site with a transaction open still follows its old site's levels for it", async () => {
  await using grid = await startGrid({ capacitiesKw: [150, 150] });
  grid.substations[0]?.station.setLimit(16);
  await using ocpp = await startOcppGateway(grid);
  const moved = await ocpp.charger("cp-resited", { maxKw: 11 });
  const stays = await ocpp.charger("cp-stays", { maxKw: 11 });
  await moved.startTransaction(1, "ev-resited");
  await stays.startTransaction(1, "ev-stays");
  await eventually(() => expect([moved.limit(1), stays.limit(1)]).toEqual([8000, 8000]));

  const password = "a-new-password-of-16";
  await ocpp.admin.registerChargePoint.mutate({
    chargePointId: "cp-resited",
    substationId: "substation-2",
    password,
    maxKw: 11,
  });
  await moved.close();
  const again = new SimulatedChargePoint({
    url: ocpp.gateway.ocppUrl,
    id: "cp-resited",
    password,
    protocol: "ocpp1.6",
  });
  ocpp.chargers.push(again);
  await again.client.connect(); // back without a boot: its limits are sent again
  again.transactions.set(1, moved.transactions.get(1) as string);
  await eventually(() => expect(again.limit(1)).toBe(8000));

  grid.substations[0]?.station.setLimit(10);
  await eventually(() => expect([again.limit(1), stays.limit(1)]).toEqual([5000, 5000]));
});
