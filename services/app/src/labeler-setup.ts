import type { AtpAgent } from '@atproto/api';
import { Secp256k1Keypair } from '@atproto/crypto';
import { DidResolver, getDidKeyFromMultibase, type DidDocument } from '@atproto/identity';
import type { AppConfig } from '#lib/config';
import { labelledCommunities, type Curation } from '#lib/curation';
import { loginAs, putLabelerRecord } from '#lib/network';

export class LabelerSetupError extends Error {
  override name = 'LabelerSetupError';
}

/** What a run did: the PLC step it reached, and the service record. */
export interface LabelerSetupResult {
  identity: 'signature-requested' | 'updated' | 'unchanged';
  record: string;
  labelValues: string[];
}

/** The `verificationMethods` and `services` of a PLC operation, read back from the DID document it produced. */
function plcFieldsOf(doc: DidDocument): { verificationMethods: Record<string, string>; services: Record<string, { type: string; endpoint: string }> } {
  const local = (id: string) => id.slice(id.indexOf('#') + 1);
  const verificationMethods: Record<string, string> = {};
  for (const method of doc.verificationMethod ?? []) {
    const key = getDidKeyFromMultibase({ type: method.type, publicKeyMultibase: method.publicKeyMultibase ?? '' });
    if (key) verificationMethods[local(method.id)] = key;
  }
  const services: Record<string, { type: string; endpoint: string }> = {};
  for (const service of doc.service ?? []) {
    if (typeof service.serviceEndpoint === 'string') services[local(service.id)] = { type: service.type, endpoint: service.serviceEndpoint };
  }
  return { verificationMethods, services };
}

/**
 * `npm run labeler:setup`: makes the labeler account a labeler. Its DID document gets the
 * `#atproto_label` key (from `LABELER_SIGNING_KEY`) and the `#atproto_labeler` service
 * (`LABELER_ENDPOINT`), through the account's PDS as the identity flow requires: the PDS emails a
 * token (`requestPlcOperationSignature`), a second run with that token has the PDS sign the PLC
 * operation (`signPlcOperation`) and submit it (`submitPlcOperation`). Then the
 * `app.bsky.labeler.service` record (`rkey: self`) is written with every value our labels can take
 * for the communities of `curation` (the curation in force, see `readCurationInForce`). With
 * `LABELER_APP_PASSWORD`, the ranker keeps that record in step with the communities afterwards
 * (`LabelerRecordKeeper`).
 *
 * @NOTE Identity changes need the account's own password: app passwords cannot sign PLC operations.
 */
export class LabelerSetup {
  private constructor(
    private readonly agent: AtpAgent,
    private readonly config: AppConfig,
    private readonly dids: DidResolver,
  ) {}

  static async login(config: AppConfig, password: string): Promise<LabelerSetup> {
    const { did } = config.labeler;
    if (did === undefined || config.labeler.signingKey === undefined) throw new LabelerSetupError('set LABELER_DID and LABELER_SIGNING_KEY first');
    const agent = await loginAs(config.publishing.service, did, password, { did, what: 'LABELER_DID' });
    const dids = new DidResolver({ plcUrl: config.feedGenerator.plcUrl, ...(config.feedGenerator.identityAllowInsecure && { fetch: globalThis.fetch }) });
    return new LabelerSetup(agent, config, dids);
  }

  /** Runs the setup; without `token`, only asks the PDS to email one when the DID document needs a change. */
  async run(token: string | undefined, curation: Curation): Promise<LabelerSetupResult> {
    const identity = await this.updateIdentity(token);
    const { uri, labelValues } = await putLabelerRecord(this.agent, labelledCommunities(curation));
    return { identity, record: uri, labelValues };
  }

  private async updateIdentity(token: string | undefined): Promise<LabelerSetupResult['identity']> {
    const did = this.agent.session!.did;
    const key = await Secp256k1Keypair.import(this.config.labeler.signingKey!);
    const doc = await this.dids.resolve(did, true);
    if (!doc) throw new LabelerSetupError(`${did} does not resolve`);
    const current = plcFieldsOf(doc);
    const endpoint = this.config.labeler.endpoint;
    const labeler = current.services.atproto_labeler;
    if (current.verificationMethods.atproto_label === key.did() && labeler?.type === 'AtprotoLabeler' && labeler.endpoint === endpoint) return 'unchanged';
    if (!did.startsWith('did:plc:')) throw new LabelerSetupError(`${did} is not a did:plc: add the #atproto_label key and #atproto_labeler service to its document yourself`);
    if (token === undefined) {
      await this.agent.com.atproto.identity.requestPlcOperationSignature();
      return 'signature-requested';
    }
    const { data } = await this.agent.com.atproto.identity.signPlcOperation({
      token,
      verificationMethods: { ...current.verificationMethods, atproto_label: key.did() },
      services: { ...current.services, atproto_labeler: { type: 'AtprotoLabeler', endpoint } },
    });
    await this.agent.com.atproto.identity.submitPlcOperation({ operation: data.operation });
    return 'updated';
  }
}
