/**
 * The one place where the library's own name constants meet the documented names: every other
 * test takes its expected error names, state names, tag and event names from
 * test/support/documented-names.ts (literals copied from README.md). A constant renamed in src/
 * or lambda/ fails here, and so does a literal that no longer matches the README.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EXPORT_GRANTS_VARIABLE, Errors, Events, FLEET_FINISHED, FleetErrors, FleetStateNames, ManagedTag, StateNames } from './support/documented-names';
import { collectStates, definitionFromTemplate } from './support/local-sfn';
import * as contract from '../lambda/shared/contract';
import { FLEET_FINISHED_EVENT, FleetStateNames as LibraryFleetStateNames } from '../src/fleet/fleet-names';
import { InstanceExportFleet } from '../src/fleet/instance-export-fleet';
import * as constants from '../src/internal/export-constants';
import { ExportEventType } from '../src/workflow/export-events';
import { MANAGED_TAG, WorkflowErrors, WorkflowEvents, WorkflowStateNames } from '../src/workflow/export-workflow-names';
import { InstanceExportWorkflow } from '../src/workflow/instance-export-workflow';

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

/** The README text under a heading, up to the next heading of the same or a higher level (code fences skipped). */
function readmeSection(heading: string): string {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README.md has no heading ${heading}`);
  const level = heading.indexOf(' ');
  let inFence = false;
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i].startsWith('```')) inFence = !inFence;
    const hashes = /^(#+) /.exec(lines[i])?.[1].length;
    if (!inFence && hashes !== undefined && hashes <= level) return lines.slice(start + 1, i).join('\n');
  }
  return lines.slice(start + 1).join('\n');
}

/** The first cell of each row of the Markdown tables in a text (header and rule rows left out). */
function firstCells(text: string): string[] {
  const rows = text.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('|---'));
  return rows.slice(1).map((line) => line.split('|')[1].trim());
}

describe('error names', () => {
  test('src/workflow/export-workflow-names.ts: the documented names, plus internal ones in their own namespace', () => {
    expect(WorkflowErrors).toEqual({
      ...Errors,
      // Internal to the workflow (they never end an execution and no document names them):
      // only their namespace is fixed here.
      INTERNAL_COMPLETED: expect.stringMatching(/^VmExport\.Internal\.\w+$/),
      INTERNAL_CANCELLED: expect.stringMatching(/^VmExport\.Internal\.\w+$/),
      TASK_NOT_LISTED: expect.stringMatching(/^VmExport\.Internal\.\w+$/),
    });
    expect(new Set([WorkflowErrors.INTERNAL_COMPLETED, WorkflowErrors.INTERNAL_CANCELLED, WorkflowErrors.TASK_NOT_LISTED]).size).toBe(3);
  });

  test('lambda/shared/contract.ts: the ERROR_* constants are exactly the documented names', () => {
    expect({
      INVALID_INPUT: contract.ERROR_INVALID_INPUT,
      PREFLIGHT_FAILED: contract.ERROR_PREFLIGHT_FAILED,
      EXPORT_REJECTED: contract.ERROR_EXPORT_REJECTED,
      EXPORT_FAILED: contract.ERROR_EXPORT_FAILED,
      DEADLINE_PASSED: contract.ERROR_DEADLINE_PASSED,
      QUOTA_NEVER_FREED: contract.ERROR_QUOTA_NEVER_FREED,
      WATCH_LOST: contract.ERROR_WATCH_LOST,
      WORKFLOW_ERROR: contract.ERROR_WORKFLOW_ERROR,
      FINISH_FAILED: contract.ERROR_FINISH_FAILED,
      QUOTA_FULL: contract.ERROR_QUOTA_FULL,
      THROTTLED: contract.ERROR_THROTTLED,
      TRANSIENT: contract.ERROR_TRANSIENT,
    }).toEqual(Errors);
    // No ERROR_* constant that the README does not document (the export workflow's and the fleet's).
    const declared = Object.entries(contract).filter(([name]) => name.startsWith('ERROR_')).map(([, value]) => value);
    expect(declared.sort()).toEqual([...Object.values(Errors), ...Object.values(FleetErrors)].sort());
    expect({ FLEET_FAILED: contract.ERROR_FLEET_FAILED, LISTING_FAILED: contract.ERROR_LISTING_FAILED }).toEqual(FleetErrors);
  });

  test('the mirror in src/ agrees with lambda/shared/contract.ts, internal names included', () => {
    expect(WorkflowErrors).toEqual({
      PREFLIGHT_FAILED: contract.ERROR_PREFLIGHT_FAILED,
      EXPORT_REJECTED: contract.ERROR_EXPORT_REJECTED,
      EXPORT_FAILED: contract.ERROR_EXPORT_FAILED,
      DEADLINE_PASSED: contract.ERROR_DEADLINE_PASSED,
      QUOTA_NEVER_FREED: contract.ERROR_QUOTA_NEVER_FREED,
      QUOTA_FULL: contract.ERROR_QUOTA_FULL,
      THROTTLED: contract.ERROR_THROTTLED,
      TRANSIENT: contract.ERROR_TRANSIENT,
      WATCH_LOST: contract.ERROR_WATCH_LOST,
      FINISH_FAILED: contract.ERROR_FINISH_FAILED,
      INVALID_INPUT: contract.ERROR_INVALID_INPUT,
      INTERNAL_COMPLETED: contract.INTERNAL_COMPLETED,
      INTERNAL_CANCELLED: contract.INTERNAL_CANCELLED,
      TASK_NOT_LISTED: contract.INTERNAL_TASK_NOT_LISTED,
      WORKFLOW_ERROR: contract.ERROR_WORKFLOW_ERROR,
    });
  });

  test('the literals are the README\'s: the error table and the retried names after it', () => {
    const running = readmeSection('## Running the workflow outside CloudFormation');
    const table = firstCells(running.slice(running.indexOf('| error | meaning |')).split('\n\n')[0]);
    expect(table).toEqual([
      Errors.INVALID_INPUT, Errors.PREFLIGHT_FAILED, Errors.EXPORT_REJECTED, Errors.EXPORT_FAILED, Errors.DEADLINE_PASSED,
      Errors.QUOTA_NEVER_FREED, Errors.WATCH_LOST, Errors.WORKFLOW_ERROR, Errors.FINISH_FAILED,
    ].map((name) => `\`${name}\``));
    expect(running).toContain(`\`${Errors.QUOTA_FULL}\`, \`${Errors.THROTTLED}\` and \`${Errors.TRANSIENT}\` are retried`);
  });
});

describe('state names', () => {
  test('src/workflow/export-workflow-names.ts: WorkflowStateNames are the documented names', () => {
    expect(WorkflowStateNames).toEqual(StateNames);
  });

  test('the synthesized state machine has exactly the documented states', () => {
    const stack = new Stack(new App(), 'Names', { env: { account: '123456789012', region: 'eu-west-1' } });
    InstanceExportWorkflow.of(stack);
    const states = collectStates(definitionFromTemplate(Template.fromStack(stack)));
    expect([...states.keys()].sort()).toEqual(Object.values(StateNames).sort());
  });

  test('the literals are the README\'s: the table of "The workflow\'s states" names each state once', () => {
    const names = firstCells(readmeSection('### The workflow\'s states'))
      .flatMap((cell) => cell.split(',').map((name) => name.trim().replace(/^`|`$/g, '')));
    expect(names.sort()).toEqual(Object.values(StateNames).sort());
  });
});

describe('tag, events and the grants variable', () => {
  test('the managed tag: src and lambda constants equal the documented key and value', () => {
    expect(MANAGED_TAG).toEqual({ KEY: ManagedTag.KEY, VALUE: ManagedTag.VALUE });
    expect([constants.TAG_MANAGED, constants.TAG_MANAGED_VALUE]).toEqual([ManagedTag.KEY, ManagedTag.VALUE]);
    expect([contract.TAG_MANAGED, contract.TAG_MANAGED_VALUE]).toEqual([ManagedTag.KEY, ManagedTag.VALUE]);
    expect(readmeSection('## Watching a running export')).toContain(`tag ${ManagedTag.KEY} = ${ManagedTag.VALUE}`);
  });

  test('the outcome events: src constants and the public API equal the documented source and detail types', () => {
    expect(WorkflowEvents).toEqual(Events);
    expect(InstanceExportWorkflow.EVENT_SOURCE).toBe(Events.SOURCE);
    expect([ExportEventType.SUCCEEDED, ExportEventType.FAILED]).toEqual([Events.SUCCEEDED, Events.FAILED]);
    const events = readmeSection('## Events and alarms');
    expect(events).toContain(`| \`source\` | \`${Events.SOURCE}\``);
    expect(events).toContain(`| \`detail-type\` | \`${Events.SUCCEEDED}\` or \`${Events.FAILED}\``);
    expect(events.replace(/\s+/g, ' ')).toContain(`the workflow also publishes \`${Events.PROGRESS}\``);
  });

  test('the progress event: the state machine publishes the detail-type and the detail fields the README lists', () => {
    const stack = new Stack(new App(), 'Progress', { env: { account: '123456789012', region: 'eu-west-1' } });
    InstanceExportWorkflow.of(stack);
    const states = collectStates(definitionFromTemplate(Template.fromStack(stack)));
    const [entry] = states.get(StateNames.PUBLISH_PROGRESS)!.Parameters.Entries;
    expect([entry.Source, entry.DetailType]).toEqual([Events.SOURCE, Events.PROGRESS]);
    const published = Object.keys(entry.Detail).map((key) => key.replace(/\.\$$/, '')).sort();
    // The README's table of the progress event's detail (the one whose first row is `kind`).
    const events = readmeSection('## Events and alarms');
    const table = events.slice(events.indexOf('| field | value |\n|---|---|\n| `kind`')).split('\n\n')[0];
    expect(firstCells(table).map((cell) => cell.replace(/^`|`$/g, '')).sort()).toEqual(published);
    expect(entry.Detail).toMatchObject({ kind: 'image', status: 'RUNNING' });
  });

  test('the grants variable: the lambda constant equals the documented name', () => {
    expect(contract.ENV_EXPORT_GRANTS).toBe(EXPORT_GRANTS_VARIABLE);
    expect(readmeSection('## Running the workflow outside CloudFormation'))
      .toContain(`variable \`${EXPORT_GRANTS_VARIABLE}\``);
  });
});

describe('fleet names', () => {
  const fleetSection = () => readmeSection('## Exporting a fleet (InstanceExportFleet)');

  test('src/fleet/fleet-names.ts: the documented state names and event', () => {
    expect(LibraryFleetStateNames).toEqual(FleetStateNames);
    expect(FLEET_FINISHED_EVENT).toBe(FLEET_FINISHED);
    expect(InstanceExportFleet.FINISHED_EVENT).toBe(FLEET_FINISHED);
  });

  test('the synthesized fleet state machine has exactly the documented states', () => {
    const stack = new Stack(new App(), 'FleetNames');
    InstanceExportFleet.of(stack);
    const states = collectStates(definitionFromTemplate(Template.fromStack(stack), 'VmExportFleet'));
    expect([...states.keys()].sort()).toEqual(Object.values(FleetStateNames).sort());
  });

  test('the literals are the README\'s: the fleet\'s state table and error table', () => {
    const section = fleetSection();
    const states = firstCells(section.slice(section.indexOf('| state | type | what it does |')))
      .flatMap((cell) => cell.split(', ')).map((cell) => cell.replace(/`/g, ''));
    expect(states.sort()).toEqual(Object.values(FleetStateNames).sort());
    const errors = firstCells(section.slice(section.indexOf('| error | meaning |')).split('\n\n')[0]);
    expect(errors).toEqual([FleetErrors.FLEET_FAILED, Errors.INVALID_INPUT, FleetErrors.LISTING_FAILED, Errors.WORKFLOW_ERROR].map((name) => `\`${name}\``));
    expect(section).toContain(`\`${FLEET_FINISHED}\` event`);
  });
});
