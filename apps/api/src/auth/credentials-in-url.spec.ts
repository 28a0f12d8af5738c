import { credentialParameter, urlForLog } from './credentials-in-url';

describe('credentials in a URL', () => {
  it.each([
    '/thumbnail?api_key=k',
    '/thumbnail?apikey=k',
    '/thumbnail?apiKey=k',
    '/thumbnail?key=k',
    '/thumbnail?token=k',
    '/thumbnail?access_token=k',
    '/thumbnail?X-Api-Key=k',
    '/thumbnail?auth=k',
    '/thumbnail?Authorization=Bearer%20k',
    '/thumbnail?bearer=k',
    '/thumbnail?password=k',
    '/thumbnail?client_secret=k',
    '/thumbnail?jwt=k',
    '/thumbnail?limit=5&token[]=k',
    '/thumbnail?API%5FKEY=k',
    '/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77/image?sessionToken=k',
    '/health?key=',
  ])('finds the credential in %s', (url) => {
    expect(credentialParameter(url)).not.toBeNull();
  });

  it.each(['/thumbnail', '/thumbnail?limit=20&status=failed&cursor=MDAw', '/thumbnail/x?wait=10', '/thumbnail?fit=contain', '/?'])(
    'finds none in %s',
    (url) => {
      expect(credentialParameter(url)).toBeNull();
    },
  );

  it('logs the path and our own parameters, and no other value', () => {
    expect(urlForLog('/thumbnail')).toBe('/thumbnail');
    expect(urlForLog('/thumbnail?limit=20&cursor=MDAw&status=failed')).toBe('/thumbnail?limit=20&cursor=MDAw&status=failed');
    const logged = urlForLog('/thumbnail?limit=5&api_key=s3cret&x=s3cret&fit=a%20b&sig=s3cret');
    expect(logged).toBe('/thumbnail?limit=5&api_key=[redacted]&[redacted]&fit=a%20b&[redacted]');
    // A key sent as a parameter's name is a key all the same.
    expect(urlForLog('/thumbnail?9c1f0e7ab3&limit=1')).toBe('/thumbnail?[redacted]&limit=1');
  });
});
