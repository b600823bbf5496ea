import type { BillingFormat } from '../../../core/config/ingest/billing.ts';
import type { BillingLine } from '../../../core/model/records.ts';

/**
 * One billing export format = one BillingFormatReader (a file in this folder): it recognises
 * its columns and maps one native record onto FOCUS. Containers (CSV, Parquet, JSON lines)
 * are read elsewhere and hand over records as NativeRecord, so any format works in any
 * container.
 */

/** A native value: scalars as text (decimals exact, times ISO 8601), nested records and lists as read. */
export type NativeValue = string | null | NativeValue[] | { [key: string]: NativeValue };
export type NativeRecord = { [column: string]: NativeValue };

export type FormatName = Exclude<BillingFormat, 'auto'>;

export interface MapContext {
  sourceName: string;
  sourceFile: string;
}

/** Maps records of one file (columns resolved once): a BillingLine, or why the record is not one. */
export type RecordMapper = ((record: NativeRecord, line: number) => BillingLine | string) & {
  /** The same mapping from the record's values in the file's column order (no record object). */
  byPosition?: (values: readonly NativeValue[], line: number) => BillingLine | string;
};

export interface BillingFormatReader {
  readonly format: FormatName;
  /**
   * How sure this reader is that a file with these top-level columns is its format: 0 = not
   * it (a required column is missing), otherwise the share of its signature columns present.
   */
  detect(columns: readonly string[]): number;
  /** Resolves the columns for one file; throws FocusFileError naming the file when it cannot. */
  open(columns: readonly string[], ctx: MapContext): RecordMapper;
}

/** Every field of a BillingLine present from the start (one object shape for all lines). */
export function emptyLine(ctx: MapContext, line: number): BillingLine {
  return {
    BilledCost: '',
    EffectiveCost: '',
    ListCost: '0',
    ContractedCost: undefined,
    BillingCurrency: '',
    BillingPeriodStart: '',
    BillingPeriodEnd: '',
    ChargePeriodStart: '',
    ChargePeriodEnd: '',
    ChargeCategory: '',
    ChargeDescription: undefined,
    ProviderName: '',
    PublisherName: undefined,
    InvoiceIssuerName: undefined,
    BillingAccountId: undefined,
    BillingAccountName: undefined,
    SubAccountId: undefined,
    SubAccountName: undefined,
    ServiceName: 'unknown',
    ServiceCategory: undefined,
    RegionId: undefined,
    RegionName: undefined,
    AvailabilityZone: undefined,
    ResourceId: undefined,
    ResourceName: undefined,
    ResourceType: undefined,
    SkuId: undefined,
    SkuPriceId: undefined,
    PricingUnit: undefined,
    PricingQuantity: undefined,
    ConsumedQuantity: undefined,
    ConsumedUnit: undefined,
    Tags: {},
    SourceName: ctx.sourceName,
    SourceFile: ctx.sourceFile,
    SourceLine: line,
  };
}
