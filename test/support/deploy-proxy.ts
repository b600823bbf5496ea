import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy in front of ClickHouse's HTTP port that can withhold the answers to chosen
 * requests: the request reaches ClickHouse and is executed, but the client never hears back.
 * That is the moment a crash hurts an at-least-once pipeline (rows stored, offsets not
 * committed), made to happen on purpose instead of by luck of timing.
 */

export interface HoldingProxy {
  url: string;
  /** From now on, answers to requests whose first line matches are withheld. */
  hold(pattern: RegExp): void;
  /** Requests whose answer ClickHouse has sent and the proxy has withheld. */
  withheld(): number;
  close(): Promise<void>;
}

function decoded(line: string): string {
  try {
    return decodeURIComponent(line.replace(/\+/g, ' '));
  } catch {
    return line;
  }
}

export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const { hostname, port } = new URL(target);
  let pattern: RegExp | undefined;
  let withheld = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    // One request at a time per keep-alive connection (the client does not pipeline): the
    // request line seen last decides what happens to the answer that comes back.
    let holding = false;
    let counted = false;
    client.on('data', (chunk: Buffer) => {
      const line = /^(GET|POST) [^\r\n]*/.exec(chunk.toString('latin1'))?.[0];
      if (line !== undefined) {
        holding = pattern !== undefined && pattern.test(decoded(line));
        counted = false;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) {
        client.write(chunk);
        return;
      }
      if (!counted) withheld++;
      counted = true;
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: (p) => {
      pattern = p;
    },
    withheld: () => withheld,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
