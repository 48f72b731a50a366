/**
 * TEST CODE ONLY: the shared state of the local AWS stand-in: region, account, the simulated
 * clock (the same `SimulatedClock` the local Step Functions runner advances), the log of every
 * SDK call that reached the fake, throttling injection and a call interceptor for fault
 * injection.
 */
import { FakeService, throttlingError } from './errors';
import { existingVirtualScheduler, SimulatedClock } from '../local-sfn';

/** Who made a call: each client set carries a label, so faults can target one caller. */
export type FakeCaller = string;

/** One SDK call that reached the fake. */
export interface FakeCall {
  /** 1, 2, ... in the order the calls arrived. */
  readonly seq: number;
  readonly service: FakeService;
  /** The API operation, e.g. `DescribeExportTasks` (the command name without `Command`). */
  readonly operation: string;
  readonly caller: FakeCaller;
  readonly input: any;
  /** Simulated second of the call. */
  readonly at: number;
  outcome?: 'ok' | 'error' | 'pending';
  /** The error name when the call failed. */
  error?: string;
}

/**
 * Sees every call before the fake answers it. `proceed()` lets the fake answer (and applies
 * its effects); an interceptor can throw before or after it, change what it returns, or return
 * a promise that never settles.
 */
export type CallInterceptor = (call: FakeCall, proceed: () => Promise<any>) => Promise<any>;

/** Selects calls for throttling injection; unset fields match everything. */
export interface CallSelector {
  readonly service?: FakeService;
  readonly operation?: string;
  readonly caller?: FakeCaller;
}

interface Throttle {
  readonly selector: CallSelector;
  remaining: number;
  /** The error to throw; default: the service's throttling error. */
  readonly error?: () => Error;
}

export interface FakeWorldOptions {
  readonly region?: string;
  readonly accountId?: string;
  readonly clock?: SimulatedClock;
}

/** The answer of one fake service to one operation. */
export type ServiceHandler = (operation: string, input: any, call: FakeCall) => any | Promise<any>;

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

export function matches(selector: CallSelector, call: Pick<FakeCall, 'service' | 'operation' | 'caller'>): boolean {
  return (selector.service === undefined || selector.service === call.service)
    && (selector.operation === undefined || selector.operation === call.operation)
    && (selector.caller === undefined || selector.caller === call.caller);
}

export class FakeWorld {
  public readonly region: string;
  public readonly accountId: string;
  public readonly clock: SimulatedClock;
  /** Every call, in order. */
  public readonly calls: FakeCall[] = [];
  /** Set to intercept calls (fault injection). */
  public interceptor?: CallInterceptor;

  private readonly throttles: Throttle[] = [];
  private readonly services = new Map<FakeService, ServiceHandler>();

  constructor(options: FakeWorldOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.clock = options.clock ?? new SimulatedClock(Date.UTC(2025, 0, 1));
  }

  /** The simulated time as a Date. */
  public now(): Date {
    return new Date(this.clock.epochMs + this.clock.now * 1000);
  }

  public registerService(service: FakeService, handler: ServiceHandler): void {
    this.services.set(service, handler);
  }

  /** The next `times` calls matching `selector` fail with the service's throttling error. */
  public throttle(selector: CallSelector, times: number): void {
    this.throttles.push({ selector, remaining: times });
  }

  /** The next `times` calls matching `selector` fail with `error()` (a new error each time). */
  public fail(selector: CallSelector, times: number, error: () => Error): void {
    this.throttles.push({ selector, remaining: times, error });
  }

  /** The calls matching `selector`. */
  public callsOf(selector: CallSelector): FakeCall[] {
    return this.calls.filter((c) => matches(selector, c));
  }

  /** Answers one SDK call (what the client middleware calls). */
  public async dispatch(service: FakeService, operation: string, input: any, caller: FakeCaller): Promise<any> {
    const call: FakeCall = {
      seq: this.calls.length + 1,
      service,
      operation,
      caller,
      input: clone(input),
      at: this.clock.now,
      outcome: 'pending',
    };
    this.calls.push(call);
    // In virtual time every SDK call is activity: the clock does not move while calls come in.
    const scheduler = existingVirtualScheduler(this.clock);
    scheduler?.bump();
    const proceed = async () => {
      const throttle = this.throttles.find((t) => t.remaining > 0 && matches(t.selector, call));
      if (throttle) {
        throttle.remaining--;
        throw throttle.error ? throttle.error() : throttlingError(service);
      }
      const handler = this.services.get(service);
      if (!handler) {
        throw new Error(`fake-aws: no fake for service ${service}`);
      }
      return clone(await handler(operation, clone(input), call));
    };
    try {
      const output = this.interceptor ? await this.interceptor(call, proceed) : await proceed();
      call.outcome = 'ok';
      return output ?? {};
    } catch (err) {
      call.outcome = 'error';
      call.error = (err as Error)?.name ?? 'Error';
      throw err;
    } finally {
      scheduler?.bump();
    }
  }
}
