/**
 * Checks on the Bicep source itself, for what compiling throws away: comments.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { type BicepFile, asString, lineOf, trailingComment, variables } from './bicep';
import { broadRoles, leastPrivilegeRoles } from './checks';

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A role GUID never stands alone: `var x = '<guid>' // <Role name>`, so a reader never has to look it up. */
export function roleNameCommentProblems(templates: Map<string, BicepFile>): string[] {
  const problems: string[] = [];
  for (const file of templates.values()) {
    for (const [name, value] of variables(file)) {
      const text = asString(value);
      if (!text || !guid.test(text)) continue;
      const role = leastPrivilegeRoles[text.toLowerCase()] ?? broadRoles[text.toLowerCase()];
      const declaration = value.parent;
      const comment = declaration ? trailingComment(file, declaration) : undefined;
      if (!role) problems.push(`${file.path}:${lineOf(value)}: '${name}' holds ${text}, which is no role this service may use`);
      else if (comment !== role) problems.push(`${file.path}:${lineOf(value)}: the GUID of '${name}' needs the comment '// ${role}' beside it`);
    }
  }
  return problems;
}

/** Any mention of a broad role's GUID in any file under infra/. */
export function broadRoleMentions(dir: string): string[] {
  const problems: string[] = [];
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const full = join(folder, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const text = readFileSync(full, 'utf8').toLowerCase();
        for (const [id, role] of Object.entries(broadRoles)) {
          const index = text.indexOf(id);
          if (index >= 0)
            problems.push(`${relative(dir, full).split(sep).join('/')}:${text.slice(0, index).split('\n').length}: mentions ${role} (${id})`);
        }
      }
    }
  };
  walk(dir);
  return problems;
}
