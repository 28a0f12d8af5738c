import { lookup as systemLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { CallbackPolicy } from './callback-policy';

/**
 * A `lookup` for the receiver's connection that resolves the host as usual and refuses it when
 * any address it resolves to is one the policy refuses. The socket connects to what this returns
 * and nothing else, so the address checked is the address connected to: a DNS answer that
 * changes between a check and the connection (rebinding) cannot slip through. Hosts that are IP
 * literals never reach a lookup; CallbackPolicy.checkUrl checks those.
 */
export function guardedLookup(policy: CallbackPolicy, listed: boolean): LookupFunction {
  return (hostname, options, callback) => {
    systemLookup(hostname, { ...(options as LookupOptions), all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      try {
        for (const { address } of addresses) policy.checkAddress(address, listed);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, '', 0);
      }
      if ((options as LookupOptions).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses;
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
