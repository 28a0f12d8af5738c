import ipaddr from 'ipaddr.js';

/** A callback the policy refuses; `reason` is safe to show the client who asked for it. */
export class CallbackRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`Callback refused: ${reason}`);
    this.name = 'CallbackRefusedError';
  }
}

/** Longest callback URL accepted; receivers' URLs are short, and each is kept with its job. */
export const MAX_CALLBACK_URL_LENGTH = 2048;

/**
 * Addresses no webhook ever goes to, whatever the allowlist says: the cloud metadata services
 * (instance credentials live there) and Azure's host agent. Link-local ones (169.254.169.254,
 * fe80::/10) are refused by their range as well.
 */
const METADATA_ADDRESSES = new Set(
  ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200', '168.63.129.16'].map(normalized),
);

/** Ranges a receiver may be in: the internet and private networks (on-premises receivers). */
const REACHABLE_RANGES = new Set(['unicast', 'private', 'uniqueLocal', 'carrierGradeNat']);

/**
 * Where webhooks may go: WEBHOOK_ALLOWED_HOSTS limits the hosts a job's callback_url may name
 * (none: any), and whatever the host, the address connected to must be one a receiver can have.
 * Loopback is refused unless the host is listed (a receiver beside the worker, in a test or a
 * sidecar); unspecified, link-local, metadata, multicast, broadcast and reserved addresses are
 * refused always, so no DNS answer, rebinding included, can point a webhook at them.
 * WEBHOOK_URL's host is the operator's own choice and counts as listed.
 */
export class CallbackPolicy {
  private readonly patterns: readonly string[];
  private readonly trustedHost: string | null;

  constructor(allowedHosts: readonly string[], operatorUrl?: string) {
    this.patterns = allowedHosts.map(normalizedHost);
    this.trustedHost = operatorUrl ? normalizedHost(new URL(operatorUrl).hostname) : null;
  }

  /**
   * The checks that need no DNS, for a URL a client sends (the API, at submission) and again
   * before each attempt (the worker). Returns the parsed URL and whether its host is listed.
   */
  checkUrl(raw: string): { url: URL; listed: boolean } {
    if (raw.length > MAX_CALLBACK_URL_LENGTH) throw new CallbackRefusedError(`is longer than ${MAX_CALLBACK_URL_LENGTH} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new CallbackRefusedError('is not an absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CallbackRefusedError('must start with http:// or https://');
    if (url.username || url.password) {
      throw new CallbackRefusedError('must not carry credentials (the signature tells the receiver who sent it)');
    }
    const host = normalizedHost(url.hostname);
    const listed = this.isListed(host);
    if (!listed && this.patterns.length > 0) throw new CallbackRefusedError('names a host that WEBHOOK_ALLOWED_HOSTS does not list');
    if (ipaddr.isValid(host)) this.checkAddress(host, listed);
    return { url, listed };
  }

  /** Refuses an address the URL's host resolved to (or is), as described on the class. */
  checkAddress(address: string, listed: boolean): void {
    const parsed = ipaddr.process(address);
    const ip = parsed.kind() === 'ipv6' && parsed.range() === 'rfc6052' ? embeddedIpv4(parsed as ipaddr.IPv6) : parsed;
    if (METADATA_ADDRESSES.has(ip.toNormalizedString())) throw new CallbackRefusedError('resolves to a cloud metadata address');
    const range = ip.range();
    if (range === 'loopback') {
      if (listed) return;
      throw new CallbackRefusedError('resolves to a loopback address, which only a host listed in WEBHOOK_ALLOWED_HOSTS may');
    }
    if (!REACHABLE_RANGES.has(range)) throw new CallbackRefusedError(`resolves to a ${describeRange(range)} address`);
  }

  private isListed(host: string): boolean {
    if (host === this.trustedHost) return true;
    // A wildcard stands for names only: `*.0.0.1` lists no address.
    const wildcards = !ipaddr.isValid(host);
    return this.patterns.some((pattern) => (pattern.startsWith('*.') ? wildcards && host.endsWith(pattern.slice(1)) : host === pattern));
  }
}

/** Lower case, IPv6 without brackets and in one spelling, no trailing dot. */
function normalizedHost(host: string): string {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return ipaddr.isValid(bare) ? normalized(bare) : bare;
}

function normalized(address: string): string {
  return ipaddr.process(address).toNormalizedString();
}

/** The IPv4 address inside a NAT64 one (64:ff9b::/96), which a NAT64 gateway would connect to. */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = address.toByteArray().slice(12);
  return new ipaddr.IPv4(bytes);
}

function describeRange(range: string): string {
  const names: Record<string, string> = {
    unspecified: 'unspecified',
    linkLocal: 'link-local',
    multicast: 'multicast',
    broadcast: 'broadcast',
  };
  return names[range] ?? `reserved (${range})`;
}
