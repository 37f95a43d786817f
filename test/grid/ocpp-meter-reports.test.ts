/**
 * Many chargers send no meter readings unless told to; without them reclaim takes a silent meter for drawing
 * nothing and the over-draw check has nothing to judge. At each boot the gateway asks a charger to report its
 * register and power every OCPP_METER_INTERVAL_S while it charges, and shows what it answered; and to stop
 * a transaction whose start it refused (StopTransactionOnInvalidId), so an honest charger does not charge on
 * after a refusal (and get caught drawing with no transaction).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, metricValue, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

type Ocpp = Awaited<ReturnType<typeof startOcppGateway>>;

const meterReports = async (ocpp: Ocpp, chargePointId: string) =>
  (await ocpp.admin.listChargePoints.query()).find((c) => c.chargePointId === chargePointId)?.meterReports;

/** What a charger is told at boot: its meter reports, and to stop a transaction whose start was refused. */
const SETTINGS = {
  "ocpp1.6": {
    MeterValueSampleInterval: "20",
    MeterValuesSampledData: "Energy.Active.Import.Register,Power.Active.Import",
    StopTransactionOnInvalidId: "true",
  },
  "ocpp2.0.1": {
    "SampledDataCtrlr.TxUpdatedInterval": "20",
    "SampledDataCtrlr.TxUpdatedMeasurands": "Energy.Active.Import.Register,Power.Active.Import",
    "TxCtrlr.StopTxOnInvalidId": "true",
  },
} as const;

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s", (protocol) => {
  test("a charger is asked at boot to report its register and power; one that cannot is shown, and still charges", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, { OCPP_METER_INTERVAL_S: "20" });
    const told = await ocpp.charger("cp-told", { protocol });
    await eventually(() => expect(Object.fromEntries(told.configuration)).toEqual(SETTINGS[protocol]));
    expect(await meterReports(ocpp, "cp-told")).toBe("Accepted");

    const deaf = await ocpp.charger("cp-no-config", {
      protocol,
      behaviour: { configAnswer: "NotImplemented" },
    });
    const refusing = await ocpp.charger("cp-refuses-config", {
      protocol,
      behaviour: { configAnswer: "Rejected" },
    });
    await eventually(async () => expect(await meterReports(ocpp, "cp-no-config")).toBe("NotImplemented"));
    await eventually(async () => expect(await meterReports(ocpp, "cp-refuses-config")).toBe("Rejected"));
    expect(deaf.configuration.size + refusing.configuration.size).toBe(0);
    await deaf.startTransaction(1, "ev-no-config");
    await eventually(() => expect(deaf.limit(1)).toBe(11_000));
  });
});

test("OCPP_METER_INTERVAL_S=0 leaves chargers' own settings alone", async () => {
  await using grid = await startGrid({ capacitiesKw: [150] });
  await using ocpp = await startOcppGateway(grid, { OCPP_METER_INTERVAL_S: "0" });
  const cp = await ocpp.charger("cp-left-alone");
  await cp.startTransaction(1, "ev-left-alone");
  // Its first limit goes out after the boot's answer, as the settings would have.
  await eventually(() => expect(cp.limit(1)).toBe(11_000));
  expect(cp.configuration.size).toBe(0);
  expect(await meterReports(ocpp, "cp-left-alone")).toBeNull();
});

test("a charger slow to take its settings is not taken for silent: a limit waits for its turn, then has its own time", async () => {
  await using grid = await startGrid({ capacitiesKw: [150] });
  await using ocpp = await startOcppGateway(grid, { OCPP_CALL_TIMEOUT_MS: "4000" });
  // Each answer within the call timeout (a second to spare on a busy machine); a limit timed from when it
  // was asked, behind a settings answer, would not be (3 + 1.8 s).
  const cp = await ocpp.charger("cp-slow-settings", {
    behaviour: { configDelayMs: 3000, profileDelayMs: () => 1800 },
  });
  await cp.startTransaction(1, "ev-slow-settings");
  await eventually(() => expect(cp.limit(1)).toBe(11_000), { timeoutMs: 15_000 });
  await eventually(async () => expect(await meterReports(ocpp, "cp-slow-settings")).toBe("Accepted"));
  const metrics = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
  expect(metricValue(metrics, "evgrid_ocpp_profiles_total", { outcome: "timeout" }) ?? 0).toBe(0);
  expect((await ocpp.admin.listChargePoints.query())[0]).toMatchObject({ managed: true });
});
