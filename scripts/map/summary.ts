/** The map as `npm run map` prints it: roles, relations, user references, unlinked data, gaps. */
import type { AppMap, MappedColumn, MappedForeignKey } from '../../src/app-map/types.ts';

export function formatSummary(map: AppMap): string[] {
  const lines = [
    `app map from ${map.derivedFrom.prisma ?? '(no schema)'}${map.derivedFrom.overrides ? ` with ${map.derivedFrom.overrides}` : ''}`,
    `  schema "${map.schema}", relationMode ${map.relationMode}${map.relationMode === 'prisma' ? ' (no foreign keys in the database)' : ''}`,
    '',
    'roles',
  ];
  for (const [role, table] of Object.entries(map.roles)) {
    lines.push(`  ${role} → "${table.table}" (model ${table.model}), id ${column(table.id)}`);
    for (const [logical, col] of Object.entries(table.columns)) lines.push(`    ${logical.padEnd(15)} ${column(col)}`);
  }
  lines.push('', 'relations');
  lines.push(...map.relations.map(foreignKey));
  lines.push('', 'user references');
  lines.push(...map.userReferences.map(foreignKey));
  lines.push('', 'user data without a foreign key');
  lines.push(
    ...(map.unlinkedUserData.length ? map.unlinkedUserData.map((u) => `  "${u.table}" (model ${u.model}): ${u.why}`) : ['  none']),
  );
  lines.push('', 'Stripe customer ids (deleted at Stripe with the user, when STRIPE_SECRET_KEY is set)');
  lines.push(
    ...(map.stripeCustomers?.length
      ? map.stripeCustomers.map((s) => `  "${s.table}"."${s.column.name}", owner "${s.owner.name}" (model ${s.model})`)
      : ['  none: Stripe erasure is off']),
  );
  lines.push('', map.gaps.length ? `gaps (${map.gaps.length})` : 'gaps: none');
  lines.push(...map.gaps.map((g) => `  ✗ ${g.role}${g.column ? `.${g.column}` : ''}: ${g.why}`));
  if (Object.keys(map.settings).length) lines.push('', `settings: ${Object.keys(map.settings).join(', ')}`);
  return lines;
}

function column(c: MappedColumn): string {
  return `"${c.name}" ${c.type}${c.nullable ? ', null' : ''}`;
}

function foreignKey(k: MappedForeignKey): string {
  return `  ${k.constraint}: "${k.table}"(${k.columns.map((c) => `"${c}"`).join(', ')}) → "${k.references}" ON DELETE ${k.onDelete}`;
}
