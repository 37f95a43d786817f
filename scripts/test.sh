#!/usr/bin/env bash
# Every test, on a machine with only Node.js, npm and Bun: installs the real components the tests use when
# they are missing, then runs `bun run test` (lint, typecheck, unit and integration) and `bun run test:e2e`
# (real components, chaos, fuzz, tools, load: test/README.md). Needs root (or sudo) only to install them.
#   Prometheus and promtool  the end-to-end telemetry test and the alert rule tests
#   Alertmanager and amtool  an alert delivered end to end, Alertmanager's config checked
#   redis-server             balancer replicas sharing state
#   docker-compose           validates compose.yaml offline
#   chromium                 opens the simulator's HTML report as a user would
#   python3                  a client in another language, made from the OpenAPI document
# The tests fail, not skip, without them.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in prometheus promtool prometheus-alertmanager amtool redis-server docker-compose chromium python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing what the tests need: ${missing[*]}"
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq prometheus prometheus-alertmanager redis-server docker-compose chromium python3
fi
# Both parts run even if the first fails (a CI log then shows every failure); the exit status is the first
# failure's.
status=0
bun run test || status=$?
bun run test:e2e || { [ "$status" -ne 0 ] || status=$?; }
exit "$status"
