import { EventEmitter } from 'node:events';
import { logErrorsQuietly } from './quiet-errors';

describe('logErrorsQuietly', () => {
  it('logs the first error, then at most one per interval with the count it held back', () => {
    vi.useFakeTimers();
    const emitter = new EventEmitter();
    const lines: { obj: object; msg: string }[] = [];
    logErrorsQuietly(emitter, 'Queue', { warn: (obj, msg) => lines.push({ obj, msg }) }, 1_000);
    for (let i = 0; i < 5; i++) emitter.emit('error', new Error('ECONNREFUSED'));
    expect(lines).toEqual([{ obj: { reason: 'ECONNREFUSED', suppressed: 0 }, msg: 'Queue error' }]);
    vi.advanceTimersByTime(1_001);
    emitter.emit('error', new Error('ECONNREFUSED'));
    expect(lines[1]).toEqual({ obj: { reason: 'ECONNREFUSED', suppressed: 4 }, msg: 'Queue error' });
    vi.useRealTimers();
  });
});
