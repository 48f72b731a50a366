import { Lazy, Token, aws_iam as iam } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import {
  cancelManagedExportImageTasksStatement,
  createTaggedExportImageTaskStatements,
  describeImagesStatement,
  exportImageTaskArns,
  imageArn,
} from './export-task-permissions';
import { IVmImportServiceRole } from '../image-export/vm-import-service-role';
import { acknowledgeWildcard, REASONS } from '../internal';

/** `ami-` followed by 8 or 17 lowercase hexadecimal characters. */
const IMAGE_ID_PATTERN = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;

/**
 * What the export workflow may do for image exports (ExportImage), added to the export-task
 * function's role on first use, so that a workflow without image exports gets none of it: the
 * granted AMIs (or any, with `allowAnyImage`), the export image tasks it creates and cancels
 * (tagged), the service roles it may pass (and read for the preflight).
 */
export class ImageExportGrants {
  private readonly images: string[] = [];
  private readonly roles: IVmImportServiceRole[] = [];
  private imagesStatement?: iam.PolicyStatement;
  private roleReadStatement?: iam.PolicyStatement;
  private basicsAdded = false;

  /**
   * @param scope the workflow (for ARNs and error messages)
   * @param role the export-task function's role
   * @param anyImage `allowAnyImage`
   */
  constructor(private readonly scope: IConstruct, private readonly role: iam.Role, private readonly anyImage: boolean) {}

  /** Lets the workflow export `imageId` (a literal AMI id or a token). */
  public grantImage(imageId: string): void {
    if (!Token.isUnresolved(imageId) && !IMAGE_ID_PATTERN.test(imageId)) {
      throw new Error(`${this.scope.node.path}: grantExportOfImage('${imageId}'): '${imageId}' is not an AMI id. Use 'ami-' followed by 8 or 17 ` +
        'lowercase hexadecimal characters (e.g. ami-0123456789abcdef0), or a reference such as image.attrImageId.');
    }
    this.addBasics();
    if (this.images.includes(imageId)) {
      return;
    }
    this.images.push(imageId);
    if (this.anyImage || this.imagesStatement) {
      return;
    }
    // One statement for every granted AMI: image/* narrowed by the ec2:ImageID condition key
    // (Service Authorization Reference: a condition key of ExportImage's image resource type).
    // An id in a condition takes a quarter of the bytes of an image ARN, so a workflow of many
    // image exports stays inside the role's 10,240-character inline policy limit longer.
    this.imagesStatement = new iam.PolicyStatement({
      sid: 'ExportGrantedImages',
      actions: ['ec2:ExportImage'],
      resources: [imageArn(this.scope, '*')],
      conditions: { StringEquals: { 'ec2:ImageID': Lazy.list({ produce: () => [...this.images] }) } },
    });
    this.role.addToPrincipalPolicy(this.imagesStatement);
    acknowledgeWildcard(this.role, 'ec2:ExportImage', imageArn(this.scope, '*'), REASONS.workflowImages);
  }

  /** Lets the workflow pass `serviceRole` to VM Import/Export and read it for the preflight. */
  public grantServiceRole(serviceRole: IVmImportServiceRole): void {
    this.addBasics();
    if (this.roles.includes(serviceRole)) {
      return;
    }
    this.roles.push(serviceRole);
    serviceRole.grantPassRole(this.role);
    if (this.roleReadStatement) {
      this.roleReadStatement.addResources(serviceRole.roleArn);
      return;
    }
    this.roleReadStatement = new iam.PolicyStatement({
      sid: 'ReadServiceRolesForPreflight',
      actions: ['iam:GetRole', 'iam:SimulatePrincipalPolicy'],
      resources: [serviceRole.roleArn],
    });
    this.role.addToPrincipalPolicy(this.roleReadStatement);
  }

  /** The image part of the grants document (absent while the workflow has no image grant). */
  public document(): { anyImage?: boolean; images?: string[] } {
    if (!this.anyImage && this.images.length === 0) {
      return {};
    }
    return { anyImage: this.anyImage, images: this.anyImage ? [] : [...this.images] };
  }

  /** How many AMIs were granted. */
  public get imageCount(): number {
    return this.images.length;
  }

  private addBasics(): void {
    if (this.basicsAdded) {
      return;
    }
    this.basicsAdded = true;
    this.role.addToPrincipalPolicy(describeImagesStatement());
    for (const statement of [...createTaggedExportImageTaskStatements(this.scope), cancelManagedExportImageTasksStatement(this.scope)]) {
      this.role.addToPrincipalPolicy(statement);
    }
    // The new wildcard resources: record why (without freezing the role's policy).
    acknowledgeWildcard(this.role, 'ec2:DescribeImages', '*');
    acknowledgeWildcard(this.role, 'ec2:ExportImage', exportImageTaskArns(this.scope));
    if (this.anyImage) {
      const anyImage = imageArn(this.scope, '*');
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ExportImages', actions: ['ec2:ExportImage'], resources: [anyImage] }));
      acknowledgeWildcard(this.role, 'ec2:ExportImage', anyImage, REASONS.workflowImages);
    }
  }
}
