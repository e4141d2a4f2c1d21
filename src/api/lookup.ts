/**
 * A dgram `lookup` for the sockets we create. node:dgram resolves the address of every send() to an unconnected
 * socket, and of bind() and connect(), through dns.lookup, which for an IP literal still costs a process.nextTick
 * hop and a closure per datagram — on a server socket that is every datagram it sends. Once the socket is bound,
 * an IP literal is answered synchronously; dgram still reports send, connect and errors asynchronously. Names,
 * and everything before 'listening' (so bind's own events keep their asynchronous order), go to dns.lookup.
 * (node 20 passes the family as a number, where @types/node says options: both are handled.)
 */
import type dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

export interface LiteralLookup {
  /** Pass as dgram.createSocket's `lookup` option. */
  readonly lookup: (address: string, family: LookupOneOptions | number, callback: LookupCallback) => void;
  /** Call with the socket once created: literal answers start when it is listening. */
  attach(socket: dgram.Socket): void;
}

export function literalLookup(): LiteralLookup {
  let bound = false;
  return {
    lookup: (address, family, callback) => {
      if (bound && isIP(address) !== 0) callback(null, address, isIP(address));
      else if (typeof family === 'number') dnsLookup(address, family, callback);
      else dnsLookup(address, family, callback);
    },
    attach: (socket) => {
      socket.once('listening', () => {
        bound = true;
      });
    },
  };
}
