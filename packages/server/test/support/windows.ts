/**
 * Waits, when fewer than `marginMs` remain of the current fixed window of `windowMs`, until
 * the next one begins. Windows start at multiples of `windowMs` since the Unix epoch, as the
 * quota usage windows do (a day-long one turns at UTC midnight), so what a test counts and
 * then reads back within `marginMs` falls in one window.
 */
export async function steadyWindow(windowMs: number, marginMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
