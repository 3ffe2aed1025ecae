import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';

/**
 * Every TypeScript snippet of every README, type-checked as written against the packages'
 * sources, so the docs cannot name an export, an option or a type the code no longer has.
 * Behaviour is each package's own tests' to prove (the deadline README's example also runs, in
 * packages/deadline/src/readme-example.loopback.test.ts).
 *
 * A snippet may use only what it imports plus the names a reader brings, declared below: their
 * own generated clients, a target, a pino logger, and the few objects a snippet says it assumes.
 */
const READER_BRINGS = `
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
declare global {
  /** Generated client constructors, as @grpc/proto-loader gives them. */
  const OrdersClient: grpc.ServiceClientConstructor;
  const PaymentsClient: grpc.ServiceClientConstructor;
  const FooClient: grpc.ServiceClientConstructor;
  const ItemService: grpc.ServiceClientConstructor;
  const target: string;
  const logger: Logger;
  /** The deadline README's caller and its callback, and where its backend listens. */
  const caller: InstanceType<grpc.ServiceClientConstructor>;
  const callback: (error: grpc.ServiceError | null, response?: unknown) => void;
  const backendAddress: string;
  /** The status README's call. */
  const call: grpc.ClientUnaryCall;
  /** The load-balancer README's service registry. */
  const consul: {
    watch(service: string, listener: (nodes: { address: string; port: number }[]) => void): void;
  };
}
export {};
`;

const root = join(__dirname, '..', '..', '..');
const readmes = [
  'README.md',
  ...readdirSync(join(root, 'packages'))
    .map((name) => join('packages', name, 'README.md'))
    .filter((path) => existsSync(join(root, path))),
];

interface Snippet {
  readme: string;
  line: number;
  file: string;
  code: string;
}

function snippetsOf(readme: string): Snippet[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    const file = join(root, '.readme-snippets', `${readme.replace(/[/.]/g, '_')}_${start}.ts`);
    // `export {}` makes every snippet a module of its own, so their names never collide.
    found.push({
      readme,
      line: start + 1,
      file,
      code: `${lines.slice(start, end).join('\n')}\nexport {};\n`,
    });
    i = end;
  }
  return found;
}

const snippets = readmes.flatMap(snippetsOf);

it('finds the snippets (a README that lost its fences would pass silently otherwise)', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(12);
});

it('every README snippet type-checks against the packages as they are', () => {
  const prelude = join(root, '.readme-snippets', 'reader-brings.d.ts');
  const sources = new Map<string, string>([[prelude, READER_BRINGS]]);
  for (const snippet of snippets) sources.set(snippet.file, snippet.code);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022, // snippets may await at the top level
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    types: ['node'],
    baseUrl: root,
    paths: { '@grpc-resilience/*': ['packages/*/src'] },
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (path) => sources.has(path) || ts.sys.fileExists(path);
  host.readFile = (path) => sources.get(path) ?? readFile(path);
  host.getSourceFile = (path, version, onError, create) => {
    const text = sources.get(path);
    return text === undefined
      ? getSourceFile(path, version, onError, create)
      : ts.createSourceFile(path, text, version, true);
  };
  const program = ts.createProgram([...sources.keys()], options, host);
  const problems = snippets.flatMap((snippet) =>
    [
      ...program.getSyntacticDiagnostics(program.getSourceFile(snippet.file)),
      ...program.getSemanticDiagnostics(program.getSourceFile(snippet.file)),
    ].map((diagnostic) => {
      const at = diagnostic.file?.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line ?? 0;
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      return `${relative(root, join(root, snippet.readme))}:${snippet.line + at}: ${text}`;
    }),
  );
  expect(problems).toEqual([]);
});

it("every package a README's snippets import is in that README's install line", () => {
  const missing: string[] = [];
  for (const readme of readmes) {
    const text = readFileSync(join(root, readme), 'utf8');
    const installed = new Set(
      [...text.matchAll(/^npm install (.+)$/gm)]
        .flatMap((match) => match[1].split(/\s+/))
        .map((spec) => spec.replace(/(?<=.)@[^/]*$/, '')), // name@version -> name
    );
    for (const snippet of snippets.filter((s) => s.readme === readme)) {
      for (const [, specifier] of snippet.code.matchAll(/from '([^'.][^']*)'/g)) {
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : specifier.split('/')[0];
        if (!name.startsWith('node:') && !installed.has(name)) {
          missing.push(`${readme}:${snippet.line}: imports ${name}, not in its npm install line`);
        }
      }
    }
  }
  expect(missing).toEqual([]);
});
