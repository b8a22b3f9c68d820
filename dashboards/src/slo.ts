// Sentinel / SLO: availability and latency SLIs, error budgets, burn rates (from the recording
// rules in dashboards/rules/sentinel.rules.yml).
import { perWindow, row, stat, target, timeseries } from './grafana.ts';
import type { DashboardSpec } from './grafana.ts';

export const SLO: DashboardSpec = {
  uid: 'sentinel-slo',
  title: 'Sentinel / SLO',
  description: 'Availability and latency SLIs, error budgets and burn rates. Recording rules: dashboards/rules/sentinel.rules.yml.',
  tags: ['sentinel', 'slo'],
  rows: [
    row('Objectives: availability 99.9% non-5xx; latency 99.9% within 1 s', [
      stat({
        title: 'Availability SLI (dashboard range)',
        description: 'Share of requests answered without a 5xx over the selected time range.',
        unit: 'percentunit', width: 6,
        thresholds: ['red', ['green', 0.999]],
        targets: [
          target('sum(rate(sentinel_requests_total{route=~"$route",status!~"5.."}[$__range])) / sum(rate(sentinel_requests_total{route=~"$route"}[$__range]))', 'availability'),
        ],
      }),
      stat({
        title: 'Latency SLI (dashboard range)',
        description: 'Share of requests completed within 0.25 s and within 1 s over the selected time range.',
        unit: 'percentunit', width: 6,
        targets: [
          target('sum(rate(sentinel_request_duration_seconds_bucket{route=~"$route",le="0.25"}[$__range])) / sum(rate(sentinel_request_duration_seconds_count{route=~"$route"}[$__range]))', '< 0.25 s'),
          target('sum(rate(sentinel_request_duration_seconds_bucket{route=~"$route",le="1"}[$__range])) / sum(rate(sentinel_request_duration_seconds_count{route=~"$route"}[$__range]))', '< 1 s'),
        ],
      }),
      stat({
        title: 'Availability error budget remaining (30 d)',
        description: 'Share of the 30-day availability error budget (0.1% of requests) not yet spent. Negative = objective missed.',
        unit: 'percentunit', width: 6,
        thresholds: ['red', ['orange', 0.25], ['green', 0.5]],
        targets: [
          target('1 - (sum(increase(sentinel_requests_total{route=~"$route",status=~"5.."}[30d])) or vector(0)) / sum(increase(sentinel_requests_total{route=~"$route"}[30d])) / 0.001', 'budget'),
        ],
      }),
      stat({
        title: 'Latency error budget remaining (30 d)',
        description: 'Share of the 30-day latency error budget (0.1% of requests slower than 1 s) not yet spent.',
        unit: 'percentunit', width: 6,
        thresholds: ['red', ['orange', 0.25], ['green', 0.5]],
        targets: [
          target('1 - (1 - sum(increase(sentinel_request_duration_seconds_bucket{route=~"$route",le="1"}[30d])) / sum(increase(sentinel_request_duration_seconds_count{route=~"$route"}[30d]))) / 0.001', 'budget'),
        ],
      }),
    ]),
    row('Availability', [
      timeseries({
        title: 'Availability SLI by window',
        description: 'From the recording rules in dashboards/rules/sentinel.rules.yml.',
        unit: 'percentunit', width: 12,
        targets: perWindow((w) => `1 - sentinel:request_errors:ratio_rate${w}`),
      }),
      timeseries({
        title: 'Availability burn rate',
        description: 'Error ratio divided by the budget (0.1%). 1 = spending exactly the budget. Pages at 14.4 (1h and 5m), tickets at 6 (6h and 30m).',
        unit: 'short', width: 12,
        thresholds: ['green', ['orange', 6], ['red', 14.4]],
        targets: perWindow((w) => `sentinel:request_errors:ratio_rate${w} / 0.001`),
      }),
      timeseries({
        title: '5xx ratio by route',
        description: 'Which routes spend the availability budget.',
        unit: 'percentunit', width: 24,
        targets: [
          target('sum by (route) (rate(sentinel_requests_total{route=~"$route",status=~"5.."}[$__rate_interval])) / sum by (route) (rate(sentinel_requests_total{route=~"$route"}[$__rate_interval]))', '{{route}}'),
        ],
      }),
    ]),
    row('Latency', [
      timeseries({
        title: 'Latency SLI by window',
        description: 'Share of requests under 0.25 s and under 1 s, from the recording rules.',
        unit: 'percentunit', width: 12,
        targets: [
          target('sentinel:request_latency_under_250ms:ratio_rate5m', '< 250ms 5m'),
          target('sentinel:request_latency_under_250ms:ratio_rate1h', '< 250ms 1h'),
          target('sentinel:request_latency_under_1s:ratio_rate5m', '< 1s 5m'),
          target('sentinel:request_latency_under_1s:ratio_rate1h', '< 1s 1h'),
        ],
      }),
      timeseries({
        title: 'Latency burn rate (1 s objective)',
        description: 'Share of requests slower than 1 s divided by the budget (0.1%). Pages at 14.4 (1h and 5m), tickets at 6 (6h and 30m).',
        unit: 'short', width: 12,
        thresholds: ['green', ['orange', 6], ['red', 14.4]],
        targets: perWindow((w) => `(1 - sentinel:request_latency_under_1s:ratio_rate${w}) / 0.001`),
      }),
      timeseries({
        title: 'Share of requests under 1 s by route',
        description: 'Which routes spend the latency budget.',
        unit: 'percentunit', width: 24,
        targets: [
          target('sum by (route) (rate(sentinel_request_duration_seconds_bucket{route=~"$route",le="1"}[$__rate_interval])) / sum by (route) (rate(sentinel_request_duration_seconds_count{route=~"$route"}[$__rate_interval]))', '{{route}}'),
        ],
      }),
    ]),
  ],
};
