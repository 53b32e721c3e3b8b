import { describe, expect, it } from 'vitest';
import { invocationBudget, SUBREQUESTS_PER_ORDER } from './budget.ts';

describe('invocationBudget', () => {
  it('stops new orders when the time is up or the subrequests left would not cover one more', () => {
    let now = 0;
    const rt = { subrequests: 500 };
    const budget = invocationBudget(rt, 10_000, 1000, () => now);
    expect(budget.mayStart(0)).toBe(true);
    // Subrequests already made before the run do not count; those made since do.
    rt.subrequests += 1000 - 3 * SUBREQUESTS_PER_ORDER;
    expect(budget.mayStart(0)).toBe(true);
    expect(budget.mayStart(2)).toBe(false); // two in flight may still need theirs
    rt.subrequests = 500;
    now = 10_000;
    expect(budget.mayStart(0)).toBe(false);
  });

  it('lets one order start per invocation on the Workers Free plan (50 subrequests)', () => {
    const free = invocationBudget({ subrequests: 0 }, 10_000, 50, () => 0);
    expect(free.mayStart(0)).toBe(true);
    expect(free.mayStart(1)).toBe(false);
  });
});
