import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';

/**
 * Checks a manifest against a CustomResourceDefinition's OpenAPI v3 schema (k6-operator's
 * k6.io_testruns.yaml), as the API server would before admitting it. The CRD is the user's (or
 * the test's) file: it is k6-operator's to version, not ours to copy.
 */
export function validateAgainstCrd(manifest: unknown, crdYaml: string): string[] {
  const crd = parseAllDocuments(crdYaml)
    .map(
      (d) =>
        d.toJS() as {
          kind?: string;
          spec?: { versions?: Array<{ name: string; schema?: { openAPIV3Schema?: object } }> };
        },
    )
    .find((d) => d?.kind === 'CustomResourceDefinition');
  const apiVersion = (manifest as { apiVersion?: string })?.apiVersion ?? '';
  const version = crd?.spec?.versions?.find((v) => apiVersion.endsWith(`/${v.name}`));
  if (!version?.schema?.openAPIV3Schema)
    return [`no schema for ${apiVersion || 'an unnamed apiVersion'} in the CRD`];
  // Kubernetes' extensions (x-kubernetes-*) and formats (int32, int-or-string) are not JSON Schema's.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile(
    strict(structuredClone(version.schema.openAPIV3Schema) as Record<string, unknown>),
  );
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? 'invalid'}`);
}

/**
 * The API server prunes a field its schema does not name, so a misspelt `paralelism` would vanish
 * without a word; kubectl's --validate=strict refuses it. So does this: every object that lists
 * its properties, and does not say it keeps unknown ones, admits no others.
 */
function strict(schema: Record<string, unknown>): Record<string, unknown> {
  const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (props) {
    for (const child of Object.values(props)) strict(child);
    if (schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields'])
      schema.additionalProperties = false;
  }
  if (schema.items && typeof schema.items === 'object') strict(schema.items as Record<string, unknown>);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
    strict(schema.additionalProperties as Record<string, unknown>);
  return schema;
}
