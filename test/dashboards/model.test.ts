import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allDashboards, dashboardJson } from '../../dashboards/src/index.ts';
import { DASHBOARD_DIR, loadDashboards, panelsOf, queriesOf } from '../support/grafana-dashboards.ts';
import { checkDashboard, corePanelTypes, referencedVariables } from '../support/grafana-model.ts';

const dashboards = loadDashboards();

describe('dashboards/*.json', () => {
  it('are the five dashboards, built from dashboards/src (npx tsx dashboards/src/build.ts)', async () => {
    const built = allDashboards();
    expect(dashboards.map((d) => d.file).sort()).toEqual(Object.keys(built).sort());
    expect(Object.keys(built).sort()).toEqual(
      ['finops.json', 'incidents.json', 'logs.json', 'service-detail.json', 'sre-overview.json'].sort(),
    );
    for (const [file, d] of Object.entries(built)) {
      expect(readFileSync(join(DASHBOARD_DIR, file), 'utf8'), `${file} is stale`).toBe(
        await dashboardJson(d, file),
      );
    }
  });

  it('have unique uids and titles', () => {
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(dashboards.length);
    expect(new Set(dashboards.map((d) => d.json.title)).size).toBe(dashboards.length);
  });

  for (const { file, json } of dashboards) {
    it(`${file} is valid against the dashboard model`, () => {
      expect(checkDashboard(json)).toEqual([]);
      expect(panelsOf(json).filter((p) => p.type !== 'row').length).toBeGreaterThan(4);
    });
  }

  it('every panel, variable and annotation queries ClickHouse through the plugin', () => {
    for (const { json } of dashboards) {
      for (const q of queriesOf(json)) expect(q.rawSql.length, q.where).toBeGreaterThan(20);
    }
  });
});

// The checker itself must catch what it is there to catch.
describe('the dashboard checker', () => {
  const base = () => structuredClone(dashboards.find((d) => d.file === 'service-detail.json')!.json);

  it('accepts the real dashboard and knows the core panel types', () => {
    expect(checkDashboard(base())).toEqual([]);
    expect(corePanelTypes()).toContain('timeseries');
  });

  it('flags duplicate ids, overlapping and out-of-grid panels', () => {
    const d = base();
    const [a, b, c] = d.panels!.filter((p) => p.type !== 'row') as {
      id: number;
      gridPos: { x: number; y: number; w: number; h: number };
    }[];
    b!.id = a!.id;
    b!.gridPos = { ...a!.gridPos, w: 2 };
    c!.gridPos.w = 0;
    const problems = checkDashboard(d).join('\n');
    expect(problems).toMatch(/duplicate id/);
    expect(problems).toMatch(/overlaps/);
    expect(problems).toMatch(/empty gridPos/);
    const e = base();
    (e.panels![0] as { gridPos: { x: number; w: number } }).gridPos.x = 20;
    expect(checkDashboard(e).join('\n')).toMatch(/leaves the 24 columns/);
  });

  it('flags undefined variables, variables used before definition and foreign datasources', () => {
    const d = base();
    const vars = d.templating!.list!;
    // metric (chained on service) moved before service.
    const metric = vars.splice(
      vars.findIndex((v) => v.name === 'metric'),
      1,
    )[0]!;
    vars.splice(1, 0, metric);
    const panel = d.panels!.find((p) => p.type !== 'row') as { title: string; datasource: unknown };
    panel.title = 'broken $nosuchvar';
    panel.datasource = { type: 'prometheus', uid: 'abc' };
    const problems = checkDashboard(d).join('\n');
    expect(problems).toMatch(/variable metric uses \$service, which is not defined before it/);
    expect(problems).toMatch(/uses \$nosuchvar, which is not defined/);
    expect(problems).toMatch(/datasource \{"type":"prometheus"/);
  });

  it("reads variable references in all of Grafana's syntaxes", () => {
    expect(
      referencedVariables(
        "x = '${a}' AND y IN (${b:singlequote}) AND $c AND [[d]] AND $__timeFilter(t) AND ${__from}",
      ).sort(),
    ).toEqual(['a', 'b', 'c', 'd']);
  });
});
