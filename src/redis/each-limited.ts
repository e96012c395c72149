/**
 * Runs `task` on every item, at most `concurrency` at a time, and resolves when all are done
 * (a task's failure is the task's to handle: it rejects the whole).
 */
export async function eachLimited<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
