/**
 * The canonical user IDs of the VM Import/Export service account, per region.
 *
 * This module is plain data with no imports so that both the constructs (src/) and the
 * Lambda handlers (lambda/, bundled with esbuild) read the same table.
 *
 * The export bucket must grant the ID of its own region READ_ACP on the bucket and WRITE.
 * Regions that are not listed use the default ID.
 */

/** The ID every region not listed below uses. */
export const DEFAULT_CANONICAL_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';

/** One row of the table: the region codes that share an ID, and the ID. */
export interface CanonicalIdRow {
  readonly regions: string[];
  readonly canonicalId: string;
}

/** The regions with an ID of their own (China and GovCloud each share one ID). */
export const CANONICAL_ID_ROWS: CanonicalIdRow[] = [
  { regions: ['af-south-1'], canonicalId: '3f7744aeebaf91dd60ab135eb1cf908700c8d2bc9133e61261e6c582be6e33ee' },
  { regions: ['ap-east-1'], canonicalId: '97ee7ab57cc9b5034f31e107741a968e595c0d7a19ec23330eae8d045a46edfb' },
  { regions: ['ap-east-2'], canonicalId: 'a9fa0eb7c8483f9558cd14b24d16e9c4d1555261a320b586a3a06908ff0047ce' },
  { regions: ['ap-south-2'], canonicalId: '77ab5ec9eac9ade710b7defed37fe0640f93c5eb76ea65a64da49930965f18ca' },
  { regions: ['ap-southeast-3'], canonicalId: 'de34aaa6b2875fa3d5086459cb4e03147cf1a9f7d03d82f02bedb991ff3d1df5' },
  { regions: ['ap-southeast-4'], canonicalId: '8b8ea36ab97c280aa8558c57a380353ac7712f01f82c21598afbb17e188b9ad5' },
  { regions: ['ap-southeast-5'], canonicalId: 'ed006f67543afcfe0779e356e52d5ed53fa45f95bcd7d277147dfc027aaca0e7' },
  { regions: ['ap-southeast-6'], canonicalId: '2dc8fa4ca1c59da5c6a4c5b0e397eea130ec62e49f18cff179034665fd20e8a2' },
  { regions: ['ap-southeast-7'], canonicalId: 'd011fe83abcc227a7ac0f914ce411d3630c4ef735e92e88ce0aa796dcfecfbdd' },
  { regions: ['ap-northeast-3'], canonicalId: '40f22ffd22d6db3b71544ed6cd00c8952d8b0a63a87d58d5b074ec60397db8c9' },
  { regions: ['ca-west-1'], canonicalId: '78e12f8d798f89502177975c4ccdac686c583765cea2bf06e9b34224e2953c83' },
  { regions: ['eu-south-1'], canonicalId: '04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c' },
  { regions: ['eu-south-2'], canonicalId: '6e81c4c52a37a7f59e103625162ed97bcd0e646593adb107d21310d093151518' },
  { regions: ['eu-central-2'], canonicalId: '5d9fcea77b2fb3df05fc15c893f212ae1d02adb4b24c13e18586db728a48da67' },
  { regions: ['il-central-1'], canonicalId: '328a78de7561501444823ebeb59152eca7cb58fee2fe2e4223c2cdd9f93ae931' },
  { regions: ['mx-central-1'], canonicalId: 'edaff67fe25d544b855bd0ba9a74a99a2584ab89ceda0a9661bdbeca530d0fca' },
  { regions: ['me-south-1'], canonicalId: 'aa763f2cf70006650562c62a09433f04353db3cba6ba6aeb3550fdc8065d3d9f' },
  { regions: ['me-central-1'], canonicalId: '7d3018832562b7b6c126f5832211fae90bd3eee3ed3afde192d990690267e475' },
  { regions: ['cn-north-1', 'cn-northwest-1'], canonicalId: '834bafd86b15b6ca71074df0fd1f93d234b9d5e848a2cb31f880c149003ce36f' },
  { regions: ['us-gov-west-1', 'us-gov-east-1'], canonicalId: 'af913ca13efe7a94b88392711f6cfc8aa07c9d1454d4f190a624b126733a5602' },
];

/**
 * Partitions for which no AWS documentation gives a VM Import/Export canonical ID: the AWS
 * European Sovereign Cloud and the isolated (ISO) partitions. The default ID belongs to the
 * commercial partition and is almost certainly wrong there, so the library refuses to use it
 * in them unless the user passes a canonical ID.
 */
export const PARTITIONS_WITHOUT_CANONICAL_ID = ['aws-eusc', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f'];

/**
 * The partition of a region code, judged by its prefix, when it is one of
 * PARTITIONS_WITHOUT_CANONICAL_ID (`eusc-de-east-1` is aws-eusc, `us-iso-east-1` aws-iso,
 * `us-isob-east-1` aws-iso-b, `eu-isoe-west-1` aws-iso-e, `us-isof-south-1` aws-iso-f);
 * undefined for every other region.
 */
export function partitionWithoutCanonicalId(region: string): string | undefined {
  if (/^eusc-/.test(region)) {
    return 'aws-eusc';
  }
  const iso = /^[a-z]{2}-iso([a-z]?)-/.exec(region);
  if (iso) {
    return iso[1] ? `aws-iso-${iso[1]}` : 'aws-iso';
  }
  return undefined;
}

/** The canonical ID for a region code: its row's ID, or the default. */
export function canonicalIdForRegion(region: string): string {
  const row = CANONICAL_ID_ROWS.find((r) => r.regions.includes(region));
  return row ? row.canonicalId : DEFAULT_CANONICAL_ID;
}
