import { CallbackPolicy, CallbackRefusedError } from './callback-policy';

function refusal(check: () => unknown): string {
  try {
    check();
  } catch (error) {
    if (error instanceof CallbackRefusedError) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('CallbackPolicy without an allowlist', () => {
  const policy = new CallbackPolicy([]);

  it('accepts receivers on the internet and on private networks', () => {
    for (const url of [
      'https://hooks.example.com/thumbnails?token=abc',
      'http://10.1.2.3:8080/in',
      'http://192.168.0.10/in',
      'http://172.20.0.5/in',
      'http://[fd12:3456::7]/in',
      'http://100.64.0.9/in',
      'https://8.8.8.8/in',
    ]) {
      expect(refusal(() => policy.checkUrl(url)), url).toBe('accepted');
    }
    expect(policy.checkUrl('https://Hooks.Example.com./in').listed).toBe(false);
  });

  it('refuses what is not an http(s) URL without credentials', () => {
    expect(refusal(() => policy.checkUrl('hooks.example.com/in'))).toMatch(/not an absolute URL/);
    expect(refusal(() => policy.checkUrl('ftp://hooks.example.com/in'))).toMatch(/http:\/\/ or https:\/\//);
    expect(refusal(() => policy.checkUrl('file:///etc/passwd'))).toMatch(/http:\/\/ or https:\/\//);
    expect(refusal(() => policy.checkUrl('https://user:pw@hooks.example.com/in'))).toMatch(/credentials/);
    expect(refusal(() => policy.checkUrl(`https://hooks.example.com/${'a'.repeat(2100)}`))).toMatch(/longer than 2048/);
  });

  it('refuses link-local, metadata, loopback, unspecified and other non-unicast addresses, however they are written', () => {
    const cases: Record<string, RegExp> = {
      'http://169.254.169.254/latest/meta-data/': /metadata/,
      'http://169.254.10.1/': /link-local/,
      'http://[fe80::1]/': /link-local/,
      'http://[fd00:ec2::254]/': /metadata/,
      'http://100.100.100.200/': /metadata/,
      'http://[::ffff:169.254.169.254]/': /metadata/,
      'http://[::ffff:a9fe:a9fe]/': /metadata/,
      'http://[64:ff9b::a9fe:a9fe]/': /metadata/,
      'http://127.0.0.1:3001/metrics': /loopback/,
      'http://127.1/': /loopback/,
      'http://2130706433/': /loopback/,
      'http://0x7f000001/': /loopback/,
      'http://[::1]/': /loopback/,
      'http://0.0.0.0/': /unspecified/,
      'http://[::]/': /unspecified/,
      'http://224.0.0.1/': /multicast/,
      'http://255.255.255.255/': /broadcast/,
      'http://240.0.0.1/': /reserved/,
    };
    for (const [url, reason] of Object.entries(cases)) expect(refusal(() => policy.checkUrl(url)), url).toMatch(reason);
  });

  it('checks resolved addresses the same way', () => {
    expect(refusal(() => policy.checkAddress('169.254.169.254', false))).toMatch(/metadata/);
    expect(refusal(() => policy.checkAddress('::ffff:127.0.0.1', false))).toMatch(/loopback/);
    expect(refusal(() => policy.checkAddress('10.0.0.1', false))).toBe('accepted');
  });
});

describe('CallbackPolicy with an allowlist', () => {
  const policy = new CallbackPolicy(['hooks.example.com', '*.internal.example.com', '127.0.0.1', '[::1]'], 'http://localhost:9000/all');

  it('takes only listed hosts, a wildcard standing for subdomains', () => {
    expect(policy.checkUrl('https://hooks.example.com/in').listed).toBe(true);
    expect(policy.checkUrl('https://a.b.internal.example.com/in').listed).toBe(true);
    for (const url of ['https://internal.example.com/in', 'https://evilhooks.example.com/in', 'https://hooks.example.com.evil.test/in', 'http://10.0.0.1/']) {
      expect(refusal(() => policy.checkUrl(url)), url).toMatch(/WEBHOOK_ALLOWED_HOSTS does not list/);
    }
  });

  it('lets a listed host be loopback, and WEBHOOK_URL\'s host counts as listed', () => {
    expect(policy.checkUrl('http://127.0.0.1:8080/in').listed).toBe(true);
    expect(policy.checkUrl('http://[0:0::1]:8080/in').listed).toBe(true);
    expect(policy.checkUrl('http://LOCALHOST:8080/other').listed).toBe(true);
    expect(refusal(() => policy.checkAddress('127.0.0.1', true))).toBe('accepted');
  });

  it('never lets a listed host reach link-local or metadata addresses', () => {
    expect(refusal(() => policy.checkAddress('169.254.169.254', true))).toMatch(/metadata/);
    expect(refusal(() => policy.checkAddress('fe80::1', true))).toMatch(/link-local/);
    expect(refusal(() => new CallbackPolicy(['169.254.169.254']).checkUrl('http://169.254.169.254/'))).toMatch(/metadata/);
    expect(refusal(() => new CallbackPolicy(['*.0.0.1']).checkUrl('http://127.0.0.1/'))).toMatch(/does not list/);
  });
});
