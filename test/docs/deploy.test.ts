/**
 * docs/DEPLOY.md sets up the CPV model on the Connect Microsoft connector's own CPV application: a refresh token
 * belongs to the application that obtained it, so a token issued to a newly registered application could never be
 * used by Connect. This reads the operator's procedure as they will: no step registers an application, and the
 * steps that touch the existing one say who runs them and keep its other credentials.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const deploy = readFileSync(join(__dirname, '..', '..', 'docs', 'DEPLOY.md'), 'utf8');
/** Step 2: everything between its heading and step 3's. */
const cpvSteps = deploy.slice(deploy.indexOf('## 2.'), deploy.indexOf('## 3.'));
/** Every shell command in the document. */
const commands = [...deploy.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').join('\n');

describe("docs/DEPLOY.md: CPV uses the Connect connector's application, never a new one", () => {
  it("has a CPV step, about the connector's application", () => {
    expect(cpvSteps).toMatch(/^## 2\. .*CPV application/m);
    expect(cpvSteps).toContain('Do not register a new application');
  });

  it('registers no application anywhere: no `az ad app create`, no portal "New registration", no Graph POST /applications', () => {
    expect(commands).not.toMatch(/az\s+ad\s+app\s+create/);
    expect(commands).not.toMatch(/az\s+ad\s+sp\s+create/);
    expect(commands).not.toMatch(/graph\.microsoft\.com\/[^\s"']*\/applications['"\s]/);
    expect(deploy).not.toMatch(/New registration/);
  });

  it("changes the existing application only by its id: the redirect URI (keeping the others) and this environment's credential", () => {
    const appCommands = [...commands.matchAll(/az\s+ad\s+app\s+[\w-]+(?:\s+[\w-]+)?[^\n]*/g)].map((m) => m[0]);
    expect(appCommands.length).toBeGreaterThan(0);
    for (const c of appCommands) expect(c).toMatch(/--id "\$CPV_CLIENT_ID"/);
    expect(cpvSteps).toMatch(/EXISTING=\$\(az ad app show --id "\$CPV_CLIENT_ID" --query "web\.redirectUris"/);
    expect(cpvSteps).toMatch(/--web-redirect-uris \$EXISTING "\$CALLBACK_URL"/);
    expect(cpvSteps).toContain('az ad app federated-credential create --id "$CPV_CLIENT_ID"');
    // A secret is appended: replacing the credentials would stop Connect's own sign-ins.
    for (const reset of commands.match(/az ad app credential reset[^\n]*/g) ?? []) expect(reset).toContain('--append');
  });

  it("says who does each step, and Microsoft's rules for the federated credential", () => {
    expect(cpvSteps).toMatch(/\| add `CALLBACK_URL` to the application's \*\*Web\*\* redirect URIs \| an owner of the application/);
    expect(cpvSteps).toContain('**at most 20** federated credentials');
    expect(cpvSteps).toContain("the managed identity must live in the **application's home tenant**");
    expect(cpvSteps).toContain('AADSTS70021');
  });
});
