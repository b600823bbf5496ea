import type { IncidentEvent } from '../engine/correlator.ts';

/** One notification channel. A new channel is one file implementing this. */
export interface Notifier {
  readonly name: string;
  readonly type: string;
  /** Throws NotifyError; `retryable` says whether another attempt can help. */
  send(event: IncidentEvent, signal: AbortSignal): Promise<void>;
}

export class NotifyError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** POSTs JSON; 5xx, 429 and network errors are retryable, other 4xx are not. */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal,
    });
  } catch (err) {
    throw new NotifyError(`request failed: ${(err as Error).message}`, true);
  }
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const text = (await res.text().catch(() => '')).slice(0, 300);
  throw new NotifyError(
    `HTTP ${res.status}${text ? `: ${text}` : ''}`,
    res.status >= 500 || res.status === 429,
  );
}

/** The link people click: the incident in the API (dashboards link by id too). */
export const incidentPath = (id: string) => `/api/v1/incidents/${encodeURIComponent(id)}`;
