/**
 * TEST CODE ONLY: a local stand-in for the default EventBridge bus, for the rules of a
 * synthesized template: an event is matched against each rule's deployed EventPattern (exact
 * values in arrays, nested objects; the subset of the pattern language the library writes) and
 * delivered to the rule's Lambda target, once, asynchronously, as EventBridge does.
 */

/** A rule: its pattern (deploy-time values resolved) and what its Lambda target runs. */
export interface FakeRule {
  readonly name: string;
  readonly pattern: Record<string, unknown>;
  readonly target: (event: any) => Promise<unknown>;
}

/** One delivery of an event to a rule's target. */
export interface FakeDelivery {
  readonly rule: string;
  readonly event: any;
  result?: unknown;
  error?: string;
}

/** True when `event` matches an EventBridge `pattern` (exact-value arrays and nested objects). */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event?.[key];
    if (Array.isArray(expected)) {
      return expected.some((value) => value === actual);
    }
    if (expected && typeof expected === 'object') {
      return matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>);
    }
    throw new Error(`fake-events: unsupported pattern value for ${key}: ${JSON.stringify(expected)}`);
  });
}

export class FakeEvents {
  public readonly rules: FakeRule[] = [];
  public readonly deliveries: FakeDelivery[] = [];
  private readonly pending = new Set<Promise<void>>();

  public putRule(rule: FakeRule): void {
    this.rules.push(rule);
  }

  /** Publishes an event: every matching rule's target runs once, after the caller goes on. */
  public publish(event: Record<string, unknown>): void {
    for (const rule of this.rules.filter((r) => matchesPattern(r.pattern, event))) {
      const delivery: FakeDelivery = { rule: rule.name, event };
      this.deliveries.push(delivery);
      const run = (async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        try {
          delivery.result = await rule.target(event);
        } catch (err) {
          delivery.error = (err as Error)?.message ?? String(err);
        }
      })();
      this.pending.add(run);
      void run.finally(() => this.pending.delete(run));
    }
  }

  /** Waits until every delivery (also those published meanwhile) has run. */
  public async settle(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.all([...this.pending]);
    }
  }
}
