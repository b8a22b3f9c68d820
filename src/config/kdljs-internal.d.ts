// Types for the one internal kdljs module the config loader uses: its chevrotain lexer, whose tokens
// carry line and column (kdljs's public `parse` output has no source locations).
declare module 'kdljs/src/parser/kdl.js' {
  export interface KdlToken {
    readonly image: string;
    readonly startOffset: number;
    readonly startLine?: number;
    readonly startColumn?: number;
    readonly tokenType: { readonly name: string };
  }
  export const lexer: {
    tokenize(text: string): { tokens: KdlToken[]; errors: unknown[] };
  };
}
