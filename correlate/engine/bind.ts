import type { Alert } from '../../core/model/records.ts';
import type { CiGraph } from './graph.ts';
import type { Ci } from './model.ts';

/**
 * Binds an alert to a CI and records why. Most specific first: an explicit CI label, the
 * detector's CI hint, the service (service.name / service / job), Kubernetes names
 * (deployment, statefulset, pod with its replica suffix stripped), then the host (host.name,
 * host, node, instance without its port). A service seen in telemetry but absent from the
 * CMDB becomes a discovered CI, so its alerts still group and show up for the CMDB owners.
 */
export interface Binding {
  ci: string;
  reason: string;
  /** A CI created for this binding (to be stored as discovered). */
  discovered?: Ci;
}

const CI_LABELS = ['ci', 'ci_id', 'cmdb_ci', 'configuration_item'];
const SERVICE_LABELS = ['service.name', 'service', 'service_name', 'app', 'application', 'job'];
const K8S_LABELS = [
  'k8s.deployment.name',
  'deployment',
  'k8s.statefulset.name',
  'statefulset',
  'k8s.daemonset.name',
  'daemonset',
  'k8s.pod.name',
  'pod',
];
const HOST_LABELS = ['host.name', 'host', 'hostname', 'node', 'nodename', 'instance'];

export class CiBinder {
  private byName = new Map<string, string>();
  private byService = new Map<string, string>();
  private indexed = -1;

  constructor(private readonly graph: CiGraph) {}

  /** Rebuild the lookup indexes (after CMDB imports). */
  reindex(): void {
    this.byName.clear();
    this.byService.clear();
    // Imported CIs win over discovered ones with the same name or service.
    const cis = [...this.graph.all()].sort((a, b) => Number(!!b.discovered) - Number(!!a.discovered));
    for (const ci of cis) {
      this.byName.set(ci.name.toLowerCase(), ci.id);
      for (const h of [ci.attributes.fqdn, ci.attributes.host_name, ci.attributes.ip_address])
        if (h) this.byName.set(h.toLowerCase(), ci.id);
      // A service CI (class service/application) is the best target for its service name.
      if (ci.service && (!this.byService.has(ci.service.toLowerCase()) || isServiceClass(ci)))
        this.byService.set(ci.service.toLowerCase(), ci.id);
    }
    this.indexed = this.graph.size;
  }

  /** `discover`: register an unknown service as a CI (not for cost alerts: a cloud service is no CI). */
  bind(alert: Alert, discover = true): Binding | undefined {
    if (this.indexed !== this.graph.size) this.reindex();
    const l = alert.labels;
    for (const k of CI_LABELS) {
      const v = l[k];
      if (!v) continue;
      const id = this.graph.get(v) ? v : this.byName.get(v.toLowerCase());
      if (id) return { ci: id, reason: `label ${k}=${v}` };
    }
    if (alert.ciHint) {
      const id = this.graph.get(alert.ciHint) ? alert.ciHint : this.byName.get(alert.ciHint.toLowerCase());
      if (id) return { ci: id, reason: `detector CI hint ${alert.ciHint}` };
    }
    const services = [
      ...(alert.service ? [['service', alert.service] as const] : []),
      ...SERVICE_LABELS.filter((k) => l[k]).map((k) => [k, l[k]!] as const),
    ];
    for (const [k, v] of services) {
      const id = this.byService.get(v.toLowerCase()) ?? this.byName.get(v.toLowerCase());
      if (id) return { ci: id, reason: `${k}=${v} is the service of CI ${this.graph.get(id)!.name}` };
    }
    for (const k of K8S_LABELS) {
      const v = l[k];
      if (!v) continue;
      const name = k.includes('pod') ? v.replace(/-[a-z0-9]{8,10}-[a-z0-9]{5}$|-\d+$/, '') : v;
      const id = this.byName.get(name.toLowerCase()) ?? this.byService.get(name.toLowerCase());
      if (id) return { ci: id, reason: `Kubernetes ${k}=${v} names CI ${this.graph.get(id)!.name}` };
    }
    for (const k of HOST_LABELS) {
      const v = l[k];
      if (!v) continue;
      const host = k === 'instance' ? v.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') : v;
      const id = this.byName.get(host.toLowerCase()) ?? this.byName.get(host.split('.')[0]!.toLowerCase());
      if (id) return { ci: id, reason: `host ${k}=${v} is CI ${this.graph.get(id)!.name}` };
    }
    // Telemetry names a service the CMDB does not know: register it (job=... alone is a
    // scrape job, often not a service, so it does not create CIs).
    const named = discover ? services.find(([k]) => k !== 'job') : undefined;
    if (named) {
      const ci: Ci = {
        id: `discovered:${named[1]}`,
        name: named[1],
        class: 'service',
        service: named[1],
        attributes: {},
        discovered: true,
      };
      this.graph.addCi(ci);
      this.reindex();
      return {
        ci: ci.id,
        reason: `${named[0]}=${named[1]} is not in the CMDB: discovered CI`,
        discovered: ci,
      };
    }
    return undefined;
  }
}

const isServiceClass = (ci: Ci) => /service|application|app/i.test(ci.class);
