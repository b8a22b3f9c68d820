// The scenario registry. To add a scenario: write bench/scenarios/NAME.ts exporting a Scenario, list it here,
// and add its name to ALL_SCENARIOS in bench/lib/args.ts.
import { directScenario } from './direct.ts';
import { haproxyScenario } from './haproxy.ts';
import { httpProxyScenario } from './http-proxy.ts';
import { nginxScenario, nginxTwoWorkersScenario } from './nginx.ts';
import { sentinelScenario, sentinelTwoWorkersScenario, sentinelTwoWorkersSharingScenarios } from './sentinel.ts';
import { sentinelDeploymentsScenario } from './sentinel-deployments.ts';
import { sentinelAccessLogScenario, sentinelTrace100Scenario, sentinelTrace1Scenario } from './sentinel-observability.ts';
import { sentinelLocalLimitScenario, sentinelRedisLimitScenario } from './sentinel-rate-limit.ts';
import { sentinelAgentScenario } from './sentinel-agent.ts';
import type { Scenario } from './types.ts';

export const SCENARIOS: readonly Scenario[] = [directScenario, sentinelScenario, sentinelAgentScenario, nginxScenario, haproxyScenario, httpProxyScenario, sentinelTwoWorkersScenario, ...sentinelTwoWorkersSharingScenarios, nginxTwoWorkersScenario, sentinelDeploymentsScenario,
  sentinelAccessLogScenario, sentinelTrace1Scenario, sentinelTrace100Scenario,
  sentinelLocalLimitScenario, sentinelRedisLimitScenario];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
