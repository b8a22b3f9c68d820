// `admin { }`: the admin listener (POST /reload, GET /status).
import type { LNode } from '../kdl.ts';
import { checkBlockNode, readAddress, readBool, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';

export interface AdminAcc { enabled: boolean; host: string; port: number; node: LNode | undefined }

export function readAdmin(ctx: Ctx, block: LNode, acc: AdminAcc): void {
  const path = 'admin';
  checkBlockNode(ctx, block, path);
  acc.node = block;
  walkBlock(ctx, block, path, {
    label: 'admin',
    keys: {
      enabled: (n, p) => { acc.enabled = readBool(ctx, n, p) ?? acc.enabled; },
      address: (n, p) => {
        const a = readAddress(ctx, n, p, 0);
        if (a !== undefined) { acc.host = a.host; acc.port = a.port; }
      },
    },
  });
}
