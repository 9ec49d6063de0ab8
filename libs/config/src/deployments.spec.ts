import { readFile } from 'node:fs/promises';
import { parse, parseAllDocuments } from 'yaml';
import { EnvSchema } from './env.schema.js';

const read = (file: string) => readFile(new URL(`../../../${file}`, import.meta.url), 'utf8');

/**
 * Variables every role of one deployment must read alike: the rankers write each feed's snapshots
 * under its URI (from the publisher's DID) and sign the labels, the feed generator serves them.
 */
const SHARED = ['FEEDGEN_HOSTNAME', 'FEEDGEN_SERVICE_DID', 'FEEDGEN_PUBLISHER_DID', 'LABELER_DID', 'LABELER_SIGNING_KEY', 'CLICKHOUSE_DATABASE', 'KAFKA_TOPIC_PREFIX', 'FEEDS_FILE'];
const declared = new Set(Object.keys(EnvSchema.shape));

describe('the deployments in the repository', () => {
  it('docker-compose.yml gives every role the same identity and store, and only variables the services read', async () => {
    const compose = parse(await read('docker-compose.yml'), { merge: true }) as { services: Record<string, { environment?: Record<string, string> }> };
    const roles = Object.entries(compose.services).filter(([, service]) => service.environment?.CG_ROLE !== undefined);
    expect(roles.map(([name]) => name).sort()).toEqual(['feed-generator', 'ingest', 'ranker', 'scoring']);
    for (const variable of SHARED) {
      const values = new Set(roles.map(([, service]) => service.environment![variable]));
      expect({ variable, values: [...values] }).toEqual({ variable, values: [[...values][0]] });
    }
    const unknown = roles.flatMap(([name, service]) => Object.keys(service.environment!).filter((variable) => !declared.has(variable)).map((variable) => `${name}: ${variable}`));
    expect(unknown).toEqual([]);
  });

  it('deploy/kubernetes gives every role one ConfigMap and one Secret, whose variables the services read', async () => {
    const documents = parseAllDocuments(await read('deploy/kubernetes/common-ground.yaml')).map((document) => document.toJS() as Record<string, unknown>);
    const env = documents.find((document) => document.kind === 'ConfigMap' && (document.metadata as { name: string }).name === 'common-ground-env') as { data: Record<string, string> };
    expect(Object.keys(env.data).filter((variable) => !declared.has(variable))).toEqual([]);
    const deployments = documents.filter((document) => document.kind === 'Deployment') as { spec: { template: { spec: { containers: { env?: { name: string }[]; envFrom: unknown[] }[] } } } }[];
    expect(deployments).toHaveLength(4);
    for (const deployment of deployments) {
      const [container] = deployment.spec.template.spec.containers;
      expect(container!.envFrom).toEqual([{ configMapRef: { name: 'common-ground-env' } }, { secretRef: { name: 'common-ground-secrets' } }]);
      // What differs between the roles is the role, and nothing of the shared identity.
      expect((container!.env ?? []).map((entry) => entry.name).filter((name) => SHARED.includes(name))).toEqual([]);
    }
  });
});
