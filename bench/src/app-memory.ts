/**
 * What an app's own /metrics says about its memory (prom-client's default metrics): whether RSS
 * is V8 heap (JavaScript objects, possibly garbage not yet collected) or outside it (buffers,
 * native libraries such as libvips, code).
 */
export interface AppMemory {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** Memory V8 knows of outside its heap: Buffers and other ArrayBuffers. */
  externalMiB: number;
}

export async function appMemory(baseUrl: string): Promise<AppMemory | null> {
  try {
    const answer = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!answer.ok) return null;
    const text = await answer.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return {
      rssMiB: value('process_resident_memory_bytes'),
      heapUsedMiB: value('nodejs_heap_size_used_bytes'),
      heapTotalMiB: value('nodejs_heap_size_total_bytes'),
      externalMiB: value('nodejs_external_memory_bytes'),
    };
  } catch {
    return null;
  }
}
