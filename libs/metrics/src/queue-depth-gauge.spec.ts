import { register } from 'prom-client';
import { registerQueueDepthGauge } from './queue-depth-gauge';

describe('registerQueueDepthGauge', () => {
  afterEach(() => register.clear());

  it('reads the queue at scrape time, one series per state', async () => {
    let waiting = 3;
    registerQueueDepthGauge(async () => ({ waiting, active: 1 }));
    expect(await register.metrics()).toContain('thumbnail_queue_jobs{state="waiting"} 3');
    waiting = 7;
    const text = await register.metrics();
    expect(text).toContain('thumbnail_queue_jobs{state="waiting"} 7');
    expect(text).toContain('thumbnail_queue_jobs{state="active"} 1');
    expect(text).toContain('thumbnail_queue_jobs{state="completed"} 0');
  });

  it('still answers a scrape when the queue cannot be read', async () => {
    registerQueueDepthGauge(async () => {
      throw new Error('redis down');
    });
    const text = await register.metrics();
    expect(text).not.toContain('thumbnail_queue_jobs{');
  });
});
