import { parseArgs } from 'node:util';
import { InvalidConfigError, loadConfig } from '#lib/config';
import { InvalidCurationError } from '#lib/curation';
import { AccountMismatchError } from '#lib/network';
import { describeCurationSource, readCurationInForce } from './curation-in-force.js';
import { LabelerSetup, LabelerSetupError } from './labeler-setup.js';

/** `npm run labeler:setup [-- --token <emailed code>]`: see `LabelerSetup`. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { token: { type: 'string' } } });
  const config = loadConfig();
  if (!config.labeler.accountPassword) throw new LabelerSetupError('set LABELER_ACCOUNT_PASSWORD (the account password: app passwords cannot change an identity)');
  const inForce = await readCurationInForce(config);
  process.stdout.write(`${describeCurationSource(inForce)}\n`);
  const setup = await LabelerSetup.login(config, config.labeler.accountPassword);
  const result = await setup.run(values.token, inForce.curation);
  const said = {
    'signature-requested': 'The PDS emailed a confirmation code to the account: run again with `-- --token <code>` to update the DID document.',
    updated: `The DID document now carries #atproto_label and #atproto_labeler (${config.labeler.endpoint}).`,
    unchanged: 'The DID document already carries our #atproto_label key and #atproto_labeler endpoint.',
  }[result.identity];
  process.stdout.write(`${said}\n${result.record}: ${result.labelValues.length} label values (${result.labelValues.join(', ')})\n`);
}

main().catch((error: unknown) => {
  const known = error instanceof LabelerSetupError || error instanceof AccountMismatchError || error instanceof InvalidConfigError || error instanceof InvalidCurationError;
  process.stderr.write(`${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
