/**
 * Every row of the bad-input table is refused with an error that names the bad value and the
 * fix; deploy-time rows also change nothing (no export task, no workflow execution, no ACL or
 * policy write).
 */
import { BAD_INPUTS, BadInputRow, exportCreate, grantCreate, setWorld, writeCalls } from './support/bad-input-table';

beforeAll(() => {
  // The handlers log every request as JSON; keep the test output readable.
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterAll(() => {
  jest.restoreAllMocks();
});

async function errorOf(row: BadInputRow): Promise<Error> {
  try {
    await row.trigger();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${row.name}: the input was accepted`);
}

test('the table has at least 30 distinct bad inputs', () => {
  expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(30);
  expect(new Set(BAD_INPUTS.map((r) => r.name)).size).toBe(BAD_INPUTS.length);
  const stages = new Set(BAD_INPUTS.map((r) => r.stage));
  expect([...stages].sort()).toEqual(['deploy: bucket grant', 'deploy: preflight', 'run: workflow input', 'synth']);
});

test('every row has an error, a cause, a fix and at least two patterns', () => {
  for (const row of BAD_INPUTS) {
    expect([row.name, row.error.length > 0, row.cause.length > 0, row.fix.length > 0]).toEqual([row.name, true, true, true]);
    expect([row.name, row.expect.length >= 2]).toEqual([row.name, true]);
  }
});

describe('healthy inputs pass the same deploy-time paths (the rows fail for their own reason)', () => {
  test('the bucket grant merges its policy statement into a healthy existing bucket', async () => {
    setWorld();
    await grantCreate();
    expect(writeCalls().putBucketPolicy).toBe(1);
  });

  test('a healthy instance and bucket start the export workflow', async () => {
    setWorld();
    await exportCreate();
    expect(writeCalls().startExecution).toBe(1);
  });
});

describe.each(BAD_INPUTS.map((row) => [row.name, row] as const))('%s', (_name, row) => {
  test(`refused at ${row.stage} with the value and the fix`, async () => {
    const err = await errorOf(row);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(row.error);
    for (const pattern of row.expect) {
      expect(err.message).toMatch(pattern);
    }
  });

  if (row.stage !== 'synth') {
    test('nothing was started or written', async () => {
      await errorOf(row);
      expect(writeCalls()).toEqual({ createExportTask: 0, startExecution: 0, putBucketAcl: 0, putBucketPolicy: 0 });
    });
  }
});
