import { z } from 'zod';
import { correlateConfig } from './correlate.ts';
import { costDetectConfig } from './detect/cost.ts';
import { notifyConfig } from './notify.ts';
import { healthDetectConfig } from './detect/health.ts';
import { logsDetectConfig } from './detect/logs.ts';
import { metricsDetectConfig } from './detect/metrics.ts';
import { billingConfig } from './ingest/billing.ts';
import { filesConfig, jsonlConfig, syslogConfig, templatesConfig } from './ingest/logs.ts';
import { otlpConfig } from './ingest/otlp.ts';
import { remoteWriteConfig } from './ingest/remote-write.ts';
import { scrapeConfig } from './ingest/scrape.ts';

/** Everything opsight can be told. Defaults make `npm start` work with no file at all. */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port, e.g. 127.0.0.1:9092');

export const scopes = ['ingest', 'read', 'admin'] as const;
export type Scope = (typeof scopes)[number];

const ttlDays = z.number().int().min(0, 'days >= 0 (0 keeps data forever)');

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .prefault({}),
    clickhouse: z
      .object({
        /** Unset: start the embedded server under dataDir. */
        url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://127.0.0.1:8123' }).optional(),
        user: z.string().default('default'),
        password: z.string().default(''),
        database: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a database identifier (letters, digits, _)')
          .default('opsight'),
        /** Set to a cluster name to emit ReplicatedMergeTree + Distributed tables ON CLUSTER. */
        cluster: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a cluster name from remote_servers')
          .optional(),
        requestTimeoutMs: z.number().int().positive().default(60_000),
        ttlDays: z
          .object({
            metrics: ttlDays.default(30),
            logs: ttlDays.default(14),
            traces: ttlDays.default(7),
            billing: ttlDays.default(0),
            alerts: ttlDays.default(180),
            deadLetters: ttlDays.default(14),
          })
          .prefault({}),
        embedded: z
          .object({
            /** 0 picks a free loopback port. */
            port: z.number().int().min(0).max(65535).default(0),
          })
          .prefault({}),
      })
      .prefault({}),
    kafka: z
      .object({
        /** Empty: the in-process bus. */
        brokers: z.array(hostPort).default([]),
        clientId: z.string().default('opsight'),
        partitions: z.number().int().min(1).max(10_000).default(6),
        replicationFactor: z.number().int().min(1).default(1),
        /** How long to keep retrying an unreachable broker at start before giving up (0 = forever). */
        connectTimeoutMs: z.number().int().min(0).default(0),
      })
      .prefault({}),
    http: z
      .object({
        addr: hostPort.default('127.0.0.1:4318'),
        bodyLimit: z
          .string()
          .regex(/^\d+(b|kb|mb|gb)$/i, 'a size such as 512kb or 16mb')
          .default('16mb'),
        tokens: z
          .array(
            z.object({
              name: z.string().min(1),
              token: z.string().min(16, 'a token of at least 16 characters'),
              scopes: z.array(z.enum(scopes)).min(1),
            }),
          )
          .default([]),
        /** Listening beyond loopback without tokens is refused unless this is set. */
        allowAnonymous: z.boolean().default(false),
      })
      .prefault({}),
    /** Sources: each kind's options live in core/config/ingest/<kind>.ts. */
    ingest: z
      .object({
        scrape: scrapeConfig,
        remoteWrite: remoteWriteConfig,
        otlp: otlpConfig,
        syslog: syslogConfig,
        jsonl: jsonlConfig,
        files: filesConfig,
        templates: templatesConfig,
        billing: billingConfig,
      })
      .strict()
      .prefault({}),
    /** Detectors: each kind's options live in core/config/detect/<kind>.ts. */
    detect: z
      .object({
        /** How often detectors save their per-series state to detector_state. */
        checkpointSeconds: z.number().positive().default(60),
        metrics: metricsDetectConfig,
        health: healthDetectConfig,
        logs: logsDetectConfig,
        cost: costDetectConfig,
      })
      .strict()
      .prefault({}),
    correlate: correlateConfig,
    notify: notifyConfig,
    writer: z
      .object({
        maxRows: z.number().int().positive().default(250_000),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(32 * 1024 * 1024),
        maxAgeMs: z.number().int().positive().default(1000),
        retryMaxDelayMs: z.number().int().positive().default(10_000),
        /**
         * INSERT body format: native (columnar; ClickHouse parses it several times faster) or
         * rowbinary. Tables with a type the Native encoder does not take use RowBinary anyway.
         * Optional rather than defaulted so literal writer configs stay valid; unset = native.
         */
        format: z.enum(['native', 'rowbinary']).optional(),
        /** Batches of one partition being inserted while the next is encoded; unset = 2. */
        maxInFlight: z.number().int().positive().optional(),
      })
      .prefault({}),
    telemetry: z
      .object({
        serviceName: z.string().default('opsight'),
        /** OTEL_EXPORTER_OTLP_ENDPOINT; unset: no trace export. */
        otlpEndpoint: z.url().optional(),
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
