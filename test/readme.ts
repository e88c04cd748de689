import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { nrp } from './helpers/cli.js';

/**
 * Keeps the README true: every `npm run` script it names exists, and every `nrp` command in its shell blocks
 * exists with every flag the README gives it. (The commands' behaviour is tested in test/cli/; this catches a
 * renamed command or flag that the README still teaches.)
 */
describe('README: the commands it teaches exist', () => {
  const root = join(import.meta.dirname, '..');
  let lines: string[];
  let scripts: Record<string, string>;

  before(async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((match) => match[1] as string);
    lines = blocks
      .flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n'))
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line && !line.startsWith('#'));
    scripts = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).scripts;
  });

  it('names only npm scripts that package.json defines', () => {
    const named = lines.flatMap((line) => [...line.matchAll(/npm run ([\w:-]+)/g)].map((match) => match[1] as string));
    expect(named).to.not.be.empty;
    for (const script of named) expect(scripts, `npm run ${script}`).to.have.property(script);
  });

  it('uses only nrp commands and flags that exist', async function () {
    this.timeout(60_000);
    const global = (await nrp(['--help'])).stdout;
    const commands = lines.flatMap((line) => {
      const found = /(?:^|\s|&&\s*)(?:npx |npm run )?nrp (.+)$/.exec(line.replace(/^[A-Z_]+=\S+ /, ''));
      return found ? [(found[1] as string).split(/\s+/)] : [];
    });
    expect(commands.length).to.be.greaterThan(5);
    for (const words of commands) {
      const path: string[] = [];
      for (const word of words) {
        if (!/^[a-z][a-z-]*$/.test(word)) break;
        path.push(word);
      }
      // The longest run of names that is a real command: the words after it are values (`vote <id> for`).
      const names = path.length;
      let help: string | undefined;
      while (path.length > 0 && help === undefined) {
        const { code, stdout } = await nrp([...path, '--help']);
        if (code === 0 && stdout.includes(`Usage: nrp ${path.join(' ')} `)) help = stdout;
        else path.pop();
      }
      const shown = words.join(' ');
      expect(help, `nrp ${shown}: no such command`).to.be.a('string');
      const stdout = help as string;
      // A group (`nrp list`) takes no values: a word after it that is not one of its commands is a typo.
      if (path.length < names) expect(stdout, `nrp ${shown}: unknown command`).to.not.match(/^Usage: .*\[command\]/m);
      for (const flag of words.filter((word) => /^--[a-z]/.test(word)).map((word) => word.split('=')[0] as string)) {
        expect(`${stdout}\n${global}`, `nrp ${shown}: ${flag}`).to.include(flag);
      }
    }
  });
});
