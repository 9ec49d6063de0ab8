import { useState } from 'preact/hooks';
import { announce } from './announce.js';
import { FormError } from './components.js';
import { valueOf } from './curation-edit.js';
import { html } from './html.js';
import { api, ApiError } from './session.js';

/** What POST /api/admin/pledges answers: the record key a withdrawal names. */
interface RecordedPledge {
  pledger: string;
  rkey: string;
}

/**
 * A pledge a curator records for a member who does not publish pledge records (the Bluesky app
 * writes none): the member's DID, the post and the credits. The ranker checks it as it checks a
 * record (membership, allowance, a live post); the ledger shows it once settled. Pledges recorded
 * here are withdrawn here, by the record key this form gives.
 */
export function PledgeForm({ community }: { community: string }) {
  const [pledger, setPledger] = useState('');
  const [post, setPost] = useState('');
  const [amount, setAmount] = useState('');
  const [rkey, setRkey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const id = (field: string) => `pledge-${community}-${field}`;

  const send = async (request: () => Promise<string>) => {
    setError(null);
    setDone(null);
    try {
      const message = await request();
      setDone(message);
      announce(message);
    } catch (failure) {
      if (!(failure instanceof ApiError && failure.status === 401)) setError((failure as Error).message);
    }
  };
  const onRecord = (event: SubmitEvent) => {
    event.preventDefault();
    void send(async () => {
      const body = { pledger: pledger.trim(), community, post: post.trim(), amount: Number(amount) };
      const recorded = await api<RecordedPledge>('/api/admin/pledges', { method: 'POST', body });
      setRkey(recorded.rkey);
      return `Recorded a pledge of ${body.amount} credits from ${recorded.pledger} (record key ${recorded.rkey}).`;
    });
  };
  const onWithdraw = () =>
    void send(async () => {
      await api(`/api/admin/pledges/${encodeURIComponent(pledger.trim())}/${encodeURIComponent(rkey.trim())}`, { method: 'DELETE' });
      return `Withdrew the pledge ${rkey.trim()} of ${pledger.trim()}.`;
    });

  return html`<details>
    <summary>Record a pledge for a member</summary>
    <form class="stack" novalidate onSubmit=${onRecord}>
      <div class="field"><label for=${id('pledger')}>Member (DID)</label>
        <input id=${id('pledger')} type="text" autocomplete="off" value=${pledger} onInput=${(event: Event) => setPledger(valueOf(event))} /></div>
      <div class="field"><label for=${id('post')}>Post (at:// URI)</label>
        <input id=${id('post')} type="text" autocomplete="off" value=${post} onInput=${(event: Event) => setPost(valueOf(event))} /></div>
      <div class="field"><label for=${id('amount')}>Credits</label>
        <input id=${id('amount')} type="number" min="1" step="1" value=${amount} onInput=${(event: Event) => setAmount(valueOf(event))} /></div>
      <div class="field"><label for=${id('rkey')}>Record key (to withdraw a pledge recorded here)</label>
        <input id=${id('rkey')} type="text" autocomplete="off" value=${rkey} onInput=${(event: Event) => setRkey(valueOf(event))} /></div>
      <${FormError} message=${error} />
      ${done && html`<p class="notice" role="status">${done}</p>`}
      <div class="actions">
        <button type="submit">Record pledge</button>
        <button type="button" class="secondary" onClick=${onWithdraw}>Withdraw pledge</button>
      </div>
    </form>
  </details>`;
}
